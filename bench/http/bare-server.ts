// The reference: a bare Bun.serve answering the same JSON body the app's /health answers.
const body = await Bun.file(Bun.env.BODY_FILE!).text();
Bun.serve({ port: Number(Bun.env.PORT), hostname: '127.0.0.1', fetch: () => new Response(body, { headers: { 'content-type': 'application/json' } }) });
export {};
