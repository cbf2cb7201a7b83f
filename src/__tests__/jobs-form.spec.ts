import {
  checkValue,
  fieldOfError,
  fieldsOf,
  initialText,
  parseField,
  parseForm
} from '../jobs/form';

/** The parameters of the shipped quick_look template, trimmed, plus the kinds it lacks. */
const SCHEMA = {
  type: 'object',
  properties: {
    num_rings: {
      type: 'integer',
      default: 12,
      minimum: 1,
      maximum: 200,
      title: 'Number of q rings',
      description: 'Rings between q min and q max.'
    },
    num_bufs: { type: 'integer', default: 8, multipleOf: 2 },
    ring_spacing: {
      type: 'string',
      default: 'linear',
      enum: ['linear', 'log']
    },
    q_max: {
      type: ['number', 'null'],
      default: null,
      exclusiveMinimum: 0
    },
    run_two_time: { type: 'boolean', default: true },
    beam_center: {
      type: ['array', 'null'],
      default: null,
      items: { type: 'number' },
      minItems: 2,
      maxItems: 2
    },
    label: { type: 'string', default: '', maxLength: 4 }
  }
};

describe('fieldsOf', () => {
  const fields = fieldsOf(SCHEMA);

  it('makes one field per property in schema order, with the right input', () => {
    expect(fields.map(f => [f.name, f.kind, f.nullable])).toEqual([
      ['num_rings', 'integer', false],
      ['num_bufs', 'integer', false],
      ['ring_spacing', 'choice', false],
      ['q_max', 'number', true],
      ['run_two_time', 'boolean', false],
      ['beam_center', 'json', true],
      ['label', 'string', false]
    ]);
  });

  it('takes title and description as label and help, the name when there is no title', () => {
    expect(fields[0].title).toBe('Number of q rings');
    expect(fields[0].description).toBe('Rings between q min and q max.');
    expect(fields[1].title).toBe('num_bufs');
    expect(fields[1].description).toBe('');
  });

  it('fills every default in', () => {
    expect(initialText(fields)).toEqual({
      num_rings: '12',
      num_bufs: '8',
      ring_spacing: '"linear"',
      q_max: '',
      run_two_time: 'true',
      beam_center: '',
      label: ''
    });
    expect(parseForm(fields, initialText(fields))).toEqual({
      values: {
        num_rings: 12,
        num_bufs: 8,
        ring_spacing: 'linear',
        q_max: null,
        run_two_time: true,
        beam_center: null,
        label: ''
      },
      errors: {}
    });
  });

  it('has no fields for a template without parameters', () => {
    expect(fieldsOf(undefined)).toEqual([]);
    expect(fieldsOf({ type: 'object' })).toEqual([]);
  });
});

describe('parseField', () => {
  const byName = Object.fromEntries(fieldsOf(SCHEMA).map(f => [f.name, f]));

  it('enforces types', () => {
    expect(parseField(byName.num_rings, '3.5')).toEqual({
      value: undefined,
      error: 'must be a whole number'
    });
    expect(parseField(byName.num_rings, 'ten').error).toBe('must be a number');
    expect(parseField(byName.num_rings, '').error).toBe('is required');
    expect(parseField(byName.q_max, '0.02')).toEqual({
      value: 0.02,
      error: null
    });
    expect(parseField(byName.beam_center, '[1, "x"]').error).toBe(
      'item 2 must be a number'
    );
    expect(parseField(byName.beam_center, '[1, 2').error).toBe(
      'is not valid JSON'
    );
    expect(parseField(byName.run_two_time, 'false')).toEqual({
      value: false,
      error: null
    });
  });

  it('checks ranges, multiples, lengths and choices as the server does', () => {
    expect(parseField(byName.num_rings, '0').error).toBe('must be at least 1');
    expect(parseField(byName.num_rings, '201').error).toBe(
      'must be at most 200'
    );
    expect(parseField(byName.num_bufs, '7').error).toBe(
      'must be a multiple of 2'
    );
    expect(parseField(byName.q_max, '0').error).toBe('must be greater than 0');
    expect(parseField(byName.beam_center, '[1]').error).toBe(
      'needs at least 2 items'
    );
    expect(parseField(byName.label, 'toolong').error).toBe(
      'must be at most 4 characters'
    );
    expect(parseField(byName.ring_spacing, '"cubic"').error).toBe(
      'must be one of "linear", "log"'
    );
  });

  it('reports every bad field of a form at once', () => {
    const fields = fieldsOf(SCHEMA);
    const text = { ...initialText(fields), num_rings: '0', num_bufs: '3' };
    expect(parseForm(fields, text).errors).toEqual({
      num_rings: 'must be at least 1',
      num_bufs: 'must be a multiple of 2'
    });
  });
});

describe('checkValue', () => {
  it('names the types a value must have', () => {
    expect(checkValue({ type: ['integer', 'null'] }, 'a')).toBe(
      'must be an integer or null'
    );
    expect(checkValue({ type: 'integer' }, 4)).toBeNull();
    expect(checkValue({ type: 'number' }, 4)).toBeNull();
  });
});

describe('fieldOfError', () => {
  const names = ['num_rings', 'beam_center', 'mask'];

  it('finds the field a server refusal names', () => {
    expect(
      fieldOfError('Invalid parameter', 'num_rings: 0 is less than 1', names)
    ).toBe('num_rings');
    expect(
      fieldOfError(
        'Invalid parameter',
        'beam_center.1: "x" is not of type number',
        names
      )
    ).toBe('beam_center');
    expect(
      fieldOfError(
        'Mask does not fit',
        "Mask 'm' is 10x10 but run 5 (abcdef12) has 20x20 detector frames.",
        names
      )
    ).toBe('mask');
  });

  it('gives none for refusals about no field', () => {
    expect(
      fieldOfError('No runs', 'Select at least one run to analyse.', names)
    ).toBeNull();
    expect(
      fieldOfError(
        'Invalid parameter',
        'other: 3 is not a multiple of 2',
        names
      )
    ).toBeNull();
  });
});
