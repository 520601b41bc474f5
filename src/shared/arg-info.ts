/**
 * One entry of a step's `argsinfo` as Ironic stores and validates it
 * (`ironic/conductor/steps.py`: `description` required, `required` optional, default False).
 */
export interface ArgInfo {
  description: string;
  required?: boolean;
}

export type ArgsInfo = Record<string, ArgInfo>;
