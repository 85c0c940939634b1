/**
 * Splits pasted SQL into statements at top-level semicolons: not inside '…' or "…" (doubled quotes
 * included), E'…' escapes, $tag$…$tag$ bodies (functions, DO blocks), -- line or /* block *\/ comments.
 * Empty statements (and comment-only ones) are dropped; each statement is returned trimmed, without its `;`.
 */
export function splitSql(sql: string): string[] {
  return splitSqlAt(sql).map((s) => s.text);
}

/** splitSql, with where each statement starts in `sql` (a UTF-16 index), to say a line of the pasted text. */
export function splitSqlAt(sql: string): { text: string; start: number }[] {
  const out: { text: string; start: number }[] = [];
  let start = 0;
  let i = 0;
  const n = sql.length;
  const push = (end: number) => {
    const raw = sql.slice(start, end);
    const s = raw.trim();
    if (s && stripComments(s).trim()) out.push({ text: s, start: start + raw.length - raw.trimStart().length });
  };
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === "-" && next === "-") {
      const nl = sql.indexOf("\n", i);
      i = nl < 0 ? n : nl + 1;
    } else if (c === "/" && next === "*") {
      // Block comments nest in PostgreSQL.
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === "/" && sql[i + 1] === "*") {
          depth++;
          i += 2;
        } else if (sql[i] === "*" && sql[i + 1] === "/") {
          depth--;
          i += 2;
        } else i++;
      }
    } else if (c === "'" || c === '"') {
      const escapes = c === "'" && /[eE]/.test(sql[i - 1] ?? "") && !/[\w$]/.test(sql[i - 2] ?? "");
      i++;
      while (i < n) {
        if (escapes && sql[i] === "\\") i += 2;
        else if (sql[i] === c && sql[i + 1] === c) i += 2;
        else if (sql[i] === c) break;
        else i++;
      }
      i++;
    } else if (c === "$") {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (tag && !/[\w$]/.test(sql[i - 1] ?? "")) {
        const end = sql.indexOf(tag[0], i + tag[0].length);
        i = end < 0 ? n : end + tag[0].length;
      } else i++;
    } else if (c === ";") {
      push(i);
      start = ++i;
    } else i++;
  }
  push(n);
  return out;
}

function stripComments(s: string): string {
  return s.replace(/--[^\n]*/g, "").replace(/\/\*[\s\S]*?\*\//g, "");
}
