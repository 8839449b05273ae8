/**
 * A small, safe expression language for job specs: filters (`status >= 500 and service != 'health'`), aggregate
 * inputs (`price * size`, `status >= 500`) and alerts over window results (`avg_temp > 30`). Text is tokenised,
 * parsed into a tree, type-checked against the known fields and compiled into closures: nothing is ever
 * evaluated as JavaScript.
 *
 * Grammar (keywords are case-insensitive):
 *   or      := and ('or' and)*
 *   and     := not ('and' not)*
 *   not     := 'not' not | compare
 *   compare := sum (op sum | ['not'] 'in' '(' literal (',' literal)* ')' | 'is' ['not'] 'null')?     op: = == != <> < <= > >=
 *   sum     := product (('+' | '-') product)*
 *   product := unary (('*' | '/' | '%') unary)*
 *   unary   := '-' unary | number | 'string' | "string" | true | false | null | field | '(' or ')'
 *
 * Missing values are null. Arithmetic with null gives null, a comparison with null is false (use `is null`),
 * and `and`/`or`/`not` treat null as false. Division by zero gives null.
 */

export type ValueType = 'number' | 'string' | 'boolean' | 'null';
export type Value = number | string | boolean | null;
export type Row = Record<string, unknown>;
export type Compiled = { type: ValueType; fields: string[]; evaluate: (row: Row) => Value };

export class ExpressionError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(message);
    this.name = 'ExpressionError';
  }
}

type Token =
  | { kind: 'num'; value: number; pos: number }
  | { kind: 'str'; value: string; pos: number }
  | { kind: 'ident'; value: string; pos: number }
  | { kind: 'kw'; value: string; pos: number }
  | { kind: 'op'; value: string; pos: number }
  | { kind: 'end'; pos: number };

const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'is', 'null', 'true', 'false']);
const OPS = ['<=', '>=', '==', '!=', '<>', '=', '<', '>', '+', '-', '*', '/', '%', '(', ')', ','];

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if (/[0-9.]/.test(c)) {
      const m = /^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/.exec(text.slice(i));
      if (!m) throw new ExpressionError(`unexpected "${c}"`, start);
      out.push({ kind: 'num', value: Number(m[0]), pos: start });
      i += m[0].length;
      continue;
    }
    if (c === "'" || c === '"') {
      let s = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new ExpressionError('unterminated string', start);
        const d = text[i]!;
        if (d === '\\' && i + 1 < text.length) {
          s += text[i + 1];
          i += 2;
        } else if (d === c) {
          i++;
          break;
        } else {
          s += d;
          i++;
        }
      }
      out.push({ kind: 'str', value: s, pos: start });
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))!;
      const word = m[0];
      const lower = word.toLowerCase();
      out.push(KEYWORDS.has(lower) ? { kind: 'kw', value: lower, pos: start } : { kind: 'ident', value: word, pos: start });
      i += word.length;
      continue;
    }
    const op = OPS.find((o) => text.startsWith(o, i));
    if (!op) throw new ExpressionError(`unexpected character "${c}"`, start);
    out.push({ kind: 'op', value: op, pos: start });
    i += op.length;
  }
  out.push({ kind: 'end', pos: text.length });
  return out;
}

type Node =
  | { k: 'lit'; value: Value; pos: number }
  | { k: 'field'; name: string; pos: number }
  | { k: 'neg'; arg: Node; pos: number }
  | { k: 'not'; arg: Node; pos: number }
  | { k: 'bin'; op: string; left: Node; right: Node; pos: number }
  | { k: 'in'; arg: Node; list: Value[]; negate: boolean; pos: number }
  | { k: 'isnull'; arg: Node; negate: boolean; pos: number };

function parse(text: string): Node {
  const tokens = tokenize(text);
  let i = 0;
  const peek = () => tokens[i]!;
  const next = () => tokens[i++]!;
  const isOp = (v: string) => peek().kind === 'op' && (peek() as { value: string }).value === v;
  const isKw = (v: string) => peek().kind === 'kw' && (peek() as { value: string }).value === v;
  const describe = (t: Token) => (t.kind === 'end' ? 'the end of the expression' : `"${String((t as { value: unknown }).value)}"`);
  const expectOp = (v: string) => {
    if (!isOp(v)) throw new ExpressionError(`expected "${v}" but found ${describe(peek())}`, peek().pos);
    next();
  };

  const or = (): Node => {
    let left = and();
    while (isKw('or')) {
      const pos = next().pos;
      left = { k: 'bin', op: 'or', left, right: and(), pos };
    }
    return left;
  };
  const and = (): Node => {
    let left = not();
    while (isKw('and')) {
      const pos = next().pos;
      left = { k: 'bin', op: 'and', left, right: not(), pos };
    }
    return left;
  };
  const not = (): Node => {
    if (isKw('not')) {
      const pos = next().pos;
      return { k: 'not', arg: not(), pos };
    }
    return compare();
  };
  const literal = (): Value => {
    const t = next();
    if (t.kind === 'num' || t.kind === 'str') return t.value;
    if (t.kind === 'op' && t.value === '-' && peek().kind === 'num') return -(next() as { value: number }).value;
    if (t.kind === 'kw' && (t.value === 'true' || t.value === 'false')) return t.value === 'true';
    throw new ExpressionError(`expected a literal in the "in" list but found ${describe(t)}`, t.pos);
  };
  const compare = (): Node => {
    const left = sum();
    const t = peek();
    if (t.kind === 'op' && ['=', '==', '!=', '<>', '<', '<=', '>', '>='].includes(t.value)) {
      next();
      const op = t.value === '==' ? '=' : t.value === '<>' ? '!=' : t.value;
      return { k: 'bin', op, left, right: sum(), pos: t.pos };
    }
    const negate = isKw('not') && tokens[i + 1]?.kind === 'kw' && (tokens[i + 1] as { value: string }).value === 'in';
    if (negate) next();
    if (isKw('in')) {
      const pos = next().pos;
      expectOp('(');
      const list = [literal()];
      while (isOp(',')) {
        next();
        list.push(literal());
      }
      expectOp(')');
      return { k: 'in', arg: left, list, negate, pos };
    }
    if (isKw('is')) {
      const pos = next().pos;
      const neg = isKw('not');
      if (neg) next();
      if (!isKw('null')) throw new ExpressionError(`expected "null" after "is" but found ${describe(peek())}`, peek().pos);
      next();
      return { k: 'isnull', arg: left, negate: neg, pos };
    }
    return left;
  };
  const sum = (): Node => {
    let left = product();
    while (isOp('+') || isOp('-')) {
      const t = next() as { value: string; pos: number };
      left = { k: 'bin', op: t.value, left, right: product(), pos: t.pos };
    }
    return left;
  };
  const product = (): Node => {
    let left = unary();
    while (isOp('*') || isOp('/') || isOp('%')) {
      const t = next() as { value: string; pos: number };
      left = { k: 'bin', op: t.value, left, right: unary(), pos: t.pos };
    }
    return left;
  };
  const unary = (): Node => {
    const t = next();
    if (t.kind === 'op' && t.value === '-') return { k: 'neg', arg: unary(), pos: t.pos };
    if (t.kind === 'num' || t.kind === 'str') return { k: 'lit', value: t.value, pos: t.pos };
    if (t.kind === 'kw' && (t.value === 'true' || t.value === 'false')) return { k: 'lit', value: t.value === 'true', pos: t.pos };
    if (t.kind === 'kw' && t.value === 'null') return { k: 'lit', value: null, pos: t.pos };
    if (t.kind === 'ident') return { k: 'field', name: t.value, pos: t.pos };
    if (t.kind === 'op' && t.value === '(') {
      const inner = or();
      expectOp(')');
      return inner;
    }
    throw new ExpressionError(`expected a value, a field or "(" but found ${describe(t)}`, t.pos);
  };

  if (peek().kind === 'end') throw new ExpressionError('the expression is empty', 0);
  const tree = or();
  if (peek().kind !== 'end') throw new ExpressionError(`unexpected ${describe(peek())} after a complete expression`, peek().pos);
  return tree;
}

const typeOfLiteral = (v: Value): ValueType => (v === null ? 'null' : (typeof v as ValueType));
const isNum = (v: unknown): v is number => typeof v === 'number' && v === v;

type Typed = { type: ValueType; fn: (row: Row) => Value };

/**
 * Parses, type-checks and compiles an expression. `fields` maps each known field to its type; a reference to
 * any other name is an error that lists the known ones.
 */
export function compileExpression(text: string, fields: Record<string, ValueType>): Compiled {
  const used = new Set<string>();
  const check = (n: Node): Typed => {
    switch (n.k) {
      case 'lit': {
        const v = n.value;
        return { type: typeOfLiteral(v), fn: () => v };
      }
      case 'field': {
        const type = fields[n.name];
        if (!type) {
          const known = Object.keys(fields);
          throw new ExpressionError(`unknown field "${n.name}"${known.length ? ` (known: ${known.join(', ')})` : ''}`, n.pos);
        }
        used.add(n.name);
        const name = n.name;
        return { type, fn: (row) => (row[name] ?? null) as Value };
      }
      case 'neg': {
        const a = check(n.arg);
        if (a.type !== 'number') throw new ExpressionError(`"-" needs a number, not a ${a.type}`, n.pos);
        return { type: 'number', fn: (row) => {
          const x = a.fn(row);
          return isNum(x) ? -x : null;
        } };
      }
      case 'not': {
        const a = check(n.arg);
        if (a.type !== 'boolean') throw new ExpressionError(`"not" needs a condition, not a ${a.type}`, n.pos);
        return { type: 'boolean', fn: (row) => a.fn(row) !== true };
      }
      case 'isnull': {
        const a = check(n.arg);
        const neg = n.negate;
        return { type: 'boolean', fn: (row) => (a.fn(row) === null) !== neg };
      }
      case 'in': {
        const a = check(n.arg);
        for (const v of n.list)
          if (typeOfLiteral(v) !== a.type) throw new ExpressionError(`"in" list mixes ${a.type} with ${typeOfLiteral(v)} (${JSON.stringify(v)})`, n.pos);
        const set = new Set<Value>(n.list);
        const neg = n.negate;
        return { type: 'boolean', fn: (row) => {
          const x = a.fn(row);
          return x !== null && set.has(x) !== neg;
        } };
      }
      case 'bin':
        return binary(n.op, check(n.left), check(n.right), n.pos);
    }
  };
  const binary = (op: string, l: Typed, r: Typed, pos: number): Typed => {
    const lf = l.fn;
    const rf = r.fn;
    if (op === 'and' || op === 'or') {
      if (l.type !== 'boolean' || r.type !== 'boolean') throw new ExpressionError(`"${op}" joins conditions, not ${l.type} and ${r.type}`, pos);
      return op === 'and'
        ? { type: 'boolean', fn: (row) => lf(row) === true && rf(row) === true }
        : { type: 'boolean', fn: (row) => lf(row) === true || rf(row) === true };
    }
    if (['+', '-', '*', '/', '%'].includes(op)) {
      if (l.type !== 'number' || r.type !== 'number') throw new ExpressionError(`"${op}" needs numbers on both sides, not ${l.type} and ${r.type}`, pos);
      const f = arithmetic[op]!;
      return { type: 'number', fn: (row) => {
        const a = lf(row);
        const b = rf(row);
        return isNum(a) && isNum(b) ? f(a, b) : null;
      } };
    }
    const comparable = l.type === r.type || l.type === 'null' || r.type === 'null';
    if (!comparable) throw new ExpressionError(`cannot compare a ${l.type} with a ${r.type}`, pos);
    if (op === '=' || op === '!=') {
      const eq = op === '=';
      return { type: 'boolean', fn: (row) => {
        const a = lf(row);
        const b = rf(row);
        return a !== null && b !== null && (a === b) === eq;
      } };
    }
    if (l.type === 'boolean' || r.type === 'boolean') throw new ExpressionError(`"${op}" cannot order booleans`, pos);
    const f = ordering[op]!;
    return { type: 'boolean', fn: (row) => {
      const a = lf(row);
      const b = rf(row);
      return a !== null && b !== null && f(a as number, b as number);
    } };
  };
  const tree = parse(text);
  const { type, fn } = check(tree);
  return { type, fields: [...used], evaluate: fn };
}

const arithmetic: Record<string, (a: number, b: number) => number | null> = {
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => (b === 0 ? null : a / b),
  '%': (a, b) => (b === 0 ? null : a % b),
};
const ordering: Record<string, (a: number, b: number) => boolean> = {
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
};

/** A readable one-line description of where an expression went wrong, for spec errors. */
export function describeExpressionError(text: string, error: ExpressionError): string {
  const near = text.slice(error.position, error.position + 20);
  return `${error.message} at character ${error.position + 1}${near ? ` (near "${near}")` : ''}`;
}
