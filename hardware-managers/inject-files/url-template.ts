/**
 * The part of Python's `str.format` IPA's inject_files applies to URL contents
 * (`content.format(node=node, ports=ports)`): `{node[uuid]}`, `{ports[0][address]}`,
 * `{node[properties][cpu_arch]}` and `{{`/`}}`. Anything else is refused rather than guessed.
 */
export function formatPythonFields(template: string, fields: Record<string, unknown>): string {
  return template.replace(/\{\{|\}\}|\{([^{}]*)\}/g, (whole, field: string | undefined) => {
    if (whole === '{{') return '{';
    if (whole === '}}') return '}';
    const match = /^([A-Za-z_]\w*)((?:\[[^\]]*\])*)$/.exec(field ?? '');
    if (!match) throw new Error(`unsupported replacement field {${field}} in ${template}`);
    let value: unknown = fields[match[1]!];
    if (value === undefined) throw new Error(`'${match[1]}'`);
    for (const [, key] of match[2]!.matchAll(/\[([^\]]*)\]/g)) {
      const index = /^\d+$/.test(key!) ? Number(key) : key!;
      value = (value as Record<string | number, unknown> | null | undefined)?.[index];
      if (value === undefined) throw new Error(`'${key}'`);
    }
    return typeof value === 'string' ? value : JSON.stringify(value);
  });
}
