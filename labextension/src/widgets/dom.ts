/** A tiny DOM builder: text is always set as text, never parsed as HTML. */

type Child = Node | string | number | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number | boolean | EventListener | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) {
      continue;
    }
    if (typeof value === 'function') {
      el.addEventListener(key.replace(/^on/, ''), value);
    } else if (key === 'className') {
      el.className = String(value);
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    el.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

/** A number as a short string: 4 significant digits, no exponent for everyday values. */
export function fmt(value: unknown): string {
  if (value === null || value === undefined) {
    return '–';
  }
  if (typeof value === 'number') {
    if (Number.isInteger(value)) {
      return String(value);
    }
    const abs = Math.abs(value);
    return abs !== 0 && (abs < 1e-3 || abs >= 1e6) ? value.toExponential(2) : String(+value.toPrecision(4));
  }
  return String(value);
}

/** ISO timestamp -> "2026-01-31 14:02" (UTC as stored). */
export function when(iso: string | null | undefined): string {
  return iso ? iso.slice(0, 16).replace('T', ' ') : '';
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Text with `code` spans as nodes: backticks become <code>, never shown raw. */
export function rich(text: string): (Node | string)[] {
  return text
    .split(/(`[^`]+`)/)
    .filter(part => part)
    .map(part => (part.startsWith('`') && part.endsWith('`') ? h('code', {}, part.slice(1, -1)) : part));
}

/** A long path as its last three parts: "…/notebooks/.mlops/lineage.db". */
export function shortPath(path: string): string {
  const parts = path.split('/').filter(p => p);
  return parts.length > 3 ? '…/' + parts.slice(-3).join('/') : path;
}
