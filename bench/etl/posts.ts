/** Deterministic JSONPlaceholder-like posts (4-line bodies, like the real ones), the same in every process. */
const words = (
  'sunt aut facere repellat provident occaecati excepturi optio reprehenderit quia et suscipit recusandae consequuntur ' +
  'expedita cum molestiae ut quas totam nostrum rerum est autem rem eveniet architecto qui esse tempore vitae sequi sint ' +
  'nihil dolor beatae ea dolores neque fugiat blanditiis voluptate porro vel odit'
).split(' ');

function phrase(seed: number, length: number): string {
  const out: string[] = [];
  for (let i = 0; i < length; i++) out.push(words[(seed * 31 + i * 7 + ((seed >> 3) % 5)) % words.length]!);
  return out.join(' ');
}

export type SourcePost = { userId: number; id: number; title: string; body: string };

export function generatePosts(n: number): SourcePost[] {
  return Array.from({ length: n }, (_, i) => ({
    // Ten consecutive posts per user, as in JSONPlaceholder.
    userId: Math.floor(i / 10) + 1,
    id: i + 1,
    title: phrase(i, 4 + (i % 6)),
    body: [0, 1, 2, 3].map((l) => phrase(i + l * 13, 7 + ((i + l) % 5))).join('\n'),
  }));
}
