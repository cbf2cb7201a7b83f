import { ISignal, Signal } from '@lumino/signaling';

import { IHealth } from './api';
import { RaydataAPIError, requestAPI } from './request';

/**
 * Connection state of the sidebar with the Raydata server extension.
 */
export type ConnectionState =
  | { status: 'loading' }
  | { status: 'ready'; health: IHealth }
  | { status: 'error'; error: string; detail: string };

/**
 * The sidebar's model: owns the server connection state and tells views when it changes.
 */
export class RaydataModel {
  get connection(): ConnectionState {
    return this._connection;
  }

  /** Emitted whenever `connection` changes. */
  get connectionChanged(): ISignal<this, ConnectionState> {
    return this._connectionChanged;
  }

  /** Ask the server who it is; the result lands in `connection`. */
  async refresh(): Promise<void> {
    this._setConnection({ status: 'loading' });
    try {
      const health = await requestAPI<IHealth>('health');
      this._setConnection({ status: 'ready', health });
    } catch (error) {
      const known = error instanceof RaydataAPIError;
      this._setConnection({
        status: 'error',
        error: known ? error.error : 'Unexpected error',
        detail: known ? error.detail : String(error)
      });
    }
  }

  private _setConnection(connection: ConnectionState): void {
    this._connection = connection;
    this._connectionChanged.emit(connection);
  }

  private _connection: ConnectionState = { status: 'loading' };
  private _connectionChanged = new Signal<this, ConnectionState>(this);
}
