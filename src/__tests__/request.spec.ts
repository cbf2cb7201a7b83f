import { RaydataAPIError, withQuery } from '../request';

describe('withQuery', () => {
  it('leaves the endpoint alone when there are no arguments', () => {
    expect(withQuery('health')).toBe('health');
    expect(withQuery('health', { q: undefined })).toBe('health');
  });

  it('escapes keys and values that contain spaces and symbols', () => {
    expect(withQuery('runs', { q: '"sequence id"=3 & owner!=bob' })).toBe(
      'runs?q=%22sequence+id%22%3D3+%26+owner%21%3Dbob'
    );
  });

  it('repeats the key for list values and stringifies numbers and booleans', () => {
    expect(
      withQuery('runs', {
        columns: ['scan_id', 'data path'],
        limit: 50,
        all: true
      })
    ).toBe('runs?columns=scan_id&columns=data+path&limit=50&all=true');
  });
});

describe('RaydataAPIError', () => {
  it('carries the status, title and detail the server sent', () => {
    const error = new RaydataAPIError(404, 'Unknown run', "No run 'abc'.");
    expect(error.status).toBe(404);
    expect(error.message).toBe("Unknown run: No run 'abc'.");
    expect(error).toBeInstanceOf(Error);
  });

  it('uses the title alone when there is no detail', () => {
    expect(new RaydataAPIError(403, 'Forbidden', '').message).toBe('Forbidden');
  });
});
