/**
 * Shapes of the Raydata REST API answers (mirrors the server's pydantic models).
 */

/** `GET health` */
export interface IHealth {
  version: string;
  catalogs: string[];
  executor: string;
}
