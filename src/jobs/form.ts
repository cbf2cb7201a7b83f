/**
 * A submission form generated from a template's parameter schema (a JSON Schema object): one field
 * per property in the schema's order, its default filled in, typed input checked as the user types
 * (the same keywords the server checks), and the server's refusals put back beside the field they
 * name.
 */

type Json = unknown;

/** What kind of input a parameter gets. */
export type FieldKind =
  'integer' | 'number' | 'string' | 'boolean' | 'choice' | 'json';

/** One parameter of the form. */
export interface IField {
  name: string;
  title: string;
  description: string;
  kind: FieldKind;
  /** `null` is a valid value (an empty box means null). */
  nullable: boolean;
  default: Json;
  /** The allowed values of a `choice`. */
  choices: Json[];
  /** The property's own schema, for the checks. */
  schema: Record<string, any>;
}

/** The form's values as the user typed them: text for inputs, `true`/`false` for checkboxes. */
export type FormText = Record<string, string>;

/** Parsed values, and what is wrong with which field (empty when nothing is). */
export interface IFormResult {
  values: Record<string, Json>;
  errors: Record<string, string>;
}

function typesOf(schema: Record<string, any>): string[] {
  const type = schema.type;
  if (Array.isArray(type)) {
    return type;
  }
  return typeof type === 'string' ? [type] : [];
}

/** The fields of an object schema, in its properties' order. */
export function fieldsOf(
  parameters: Record<string, any> | undefined
): IField[] {
  const properties: Record<
    string,
    Record<string, any>
  > = parameters?.properties ?? {};
  return Object.entries(properties).map(([name, schema]) => {
    const types = typesOf(schema);
    const nullable = types.includes('null');
    const main = types.filter(t => t !== 'null');
    let kind: FieldKind;
    if (Array.isArray(schema.enum)) {
      kind = 'choice';
    } else if (main.length === 1 && main[0] === 'integer') {
      kind = 'integer';
    } else if (main.length === 1 && main[0] === 'number') {
      kind = 'number';
    } else if (main.length === 1 && main[0] === 'string') {
      kind = 'string';
    } else if (main.length === 1 && main[0] === 'boolean' && !nullable) {
      kind = 'boolean';
    } else {
      kind = 'json';
    }
    return {
      name,
      title: typeof schema.title === 'string' ? schema.title : name,
      description:
        typeof schema.description === 'string' ? schema.description : '',
      kind,
      nullable,
      default: schema.default ?? null,
      choices: Array.isArray(schema.enum) ? schema.enum : [],
      schema
    };
  });
}

/** How a value shows in its input. */
export function toText(field: IField, value: Json): string {
  if (value === null || value === undefined) {
    return '';
  }
  switch (field.kind) {
    case 'choice':
    case 'json':
      return JSON.stringify(value);
    default:
      return String(value);
  }
}

/** Every field's default, as text. */
export function initialText(fields: IField[]): FormText {
  return Object.fromEntries(fields.map(f => [f.name, toText(f, f.default)]));
}

function checkNumber(schema: Record<string, any>, n: number): string | null {
  if (typeof schema.minimum === 'number' && n < schema.minimum) {
    return `must be at least ${schema.minimum}`;
  }
  if (typeof schema.maximum === 'number' && n > schema.maximum) {
    return `must be at most ${schema.maximum}`;
  }
  if (
    typeof schema.exclusiveMinimum === 'number' &&
    n <= schema.exclusiveMinimum
  ) {
    return `must be greater than ${schema.exclusiveMinimum}`;
  }
  if (
    typeof schema.exclusiveMaximum === 'number' &&
    n >= schema.exclusiveMaximum
  ) {
    return `must be less than ${schema.exclusiveMaximum}`;
  }
  if (typeof schema.multipleOf === 'number') {
    const ratio = n / schema.multipleOf;
    if (Math.abs(ratio - Math.round(ratio)) > 1e-9) {
      return `must be a multiple of ${schema.multipleOf}`;
    }
  }
  return null;
}

function checkString(schema: Record<string, any>, s: string): string | null {
  if (typeof schema.minLength === 'number' && s.length < schema.minLength) {
    return `must be at least ${schema.minLength} characters`;
  }
  if (typeof schema.maxLength === 'number' && s.length > schema.maxLength) {
    return `must be at most ${schema.maxLength} characters`;
  }
  if (typeof schema.pattern === 'string') {
    let pattern: RegExp | null = null;
    try {
      pattern = new RegExp(schema.pattern, 'u');
    } catch {
      // A pattern JavaScript cannot read is left to the server.
    }
    if (pattern && !pattern.test(s)) {
      return `must match ${schema.pattern}`;
    }
  }
  return null;
}

/** Check any JSON value against the keywords templates use (type, enum, ranges, items). */
export function checkValue(
  schema: Record<string, any>,
  value: Json
): string | null {
  const types = typesOf(schema);
  if (Array.isArray(schema.enum)) {
    const text = JSON.stringify(value);
    return schema.enum.some((c: Json) => JSON.stringify(c) === text)
      ? null
      : `must be one of ${schema.enum.map((c: Json) => JSON.stringify(c)).join(', ')}`;
  }
  const typeOf = (v: Json): string[] => {
    if (v === null) {
      return ['null'];
    }
    if (Array.isArray(v)) {
      return ['array'];
    }
    if (typeof v === 'number') {
      return Number.isInteger(v) ? ['integer', 'number'] : ['number'];
    }
    return [typeof v];
  };
  if (types.length && !typeOf(value).some(t => types.includes(t))) {
    return `must be ${types.map(t => (t === 'null' ? 'null' : `a${/^[aeiou]/.test(t) ? 'n' : ''} ${t}`)).join(' or ')}`;
  }
  if (typeof value === 'number') {
    return checkNumber(schema, value);
  }
  if (typeof value === 'string') {
    return checkString(schema, value);
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) {
      return `needs at least ${schema.minItems} items`;
    }
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) {
      return `takes at most ${schema.maxItems} items`;
    }
    if (schema.items && typeof schema.items === 'object') {
      for (let i = 0; i < value.length; i++) {
        const problem = checkValue(schema.items, value[i]);
        if (problem) {
          return `item ${i + 1} ${problem}`;
        }
      }
    }
  }
  return null;
}

/** Read one field's text: its value, or what is wrong with it. */
export function parseField(
  field: IField,
  text: string
): { value: Json; error: string | null } {
  const trimmed = text.trim();
  if (trimmed === '' && field.kind !== 'string') {
    return field.nullable
      ? { value: null, error: null }
      : { value: undefined, error: 'is required' };
  }
  let value: Json;
  switch (field.kind) {
    case 'integer':
    case 'number': {
      const n = Number(trimmed);
      if (!Number.isFinite(n)) {
        return { value: undefined, error: 'must be a number' };
      }
      if (field.kind === 'integer' && !Number.isInteger(n)) {
        return { value: undefined, error: 'must be a whole number' };
      }
      value = n;
      break;
    }
    case 'boolean':
      value = trimmed === 'true';
      break;
    case 'string':
      value = field.nullable && text === '' ? null : text;
      break;
    default:
      try {
        value = JSON.parse(trimmed);
      } catch {
        return { value: undefined, error: 'is not valid JSON' };
      }
  }
  return { value, error: checkValue(field.schema, value) };
}

/** Read the whole form. */
export function parseForm(fields: IField[], text: FormText): IFormResult {
  const values: Record<string, Json> = {};
  const errors: Record<string, string> = {};
  for (const field of fields) {
    const { value, error } = parseField(
      field,
      text[field.name] ?? toText(field, field.default)
    );
    if (error) {
      errors[field.name] = error;
    } else {
      values[field.name] = value;
    }
  }
  return { values, errors };
}

/**
 * The field a server refusal names, if any: "Invalid parameter" details start with `field: `
 * (a nested path's first part is the field), "Unknown parameter" quotes the name, and mask
 * problems belong to the mask picker (`mask`).
 */
export function fieldOfError(
  error: string,
  detail: string,
  names: string[]
): string | null {
  const head = /^([A-Za-z_][\w]*)(?:\.[\w.]+)?: /.exec(detail);
  if (head && names.includes(head[1])) {
    return head[1];
  }
  for (const name of names) {
    if (detail.includes(`'${name}'`) && /parameter/i.test(error)) {
      return name;
    }
  }
  if (/mask/i.test(error)) {
    return 'mask';
  }
  return null;
}
