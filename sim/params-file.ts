/**
 * A simulator parameters file: a YAML mapping of some of `simParamsSchema`'s keys, as
 * `harness calibrate` writes it and a scenario loads it (`sim: { paramsFile: ... }`).
 * Timing (`stepSeconds`, `episodeSteps`) belongs to the scenario and is refused here, so a
 * fitted file cannot change what a step means.
 */
import { parseDocument, stringify } from "yaml";
import { z } from "zod";
import { type SimParams, simParamsSchema } from "./params.ts";

const { stepSeconds: _s, episodeSteps: _e, ...fileShape } = simParamsSchema.shape;
/** Every key optional, no defaults applied: the file says only what it sets. */
const paramsFileSchema = z
  .object(
    Object.fromEntries(Object.entries(fileShape).map(([k, v]) => [k, (v as z.ZodDefault).unwrap()])) as {
      [K in keyof typeof fileShape]: ReturnType<(typeof fileShape)[K]["unwrap"]>;
    },
  )
  .partial()
  .strict();

export type SimParamsFile = Partial<Omit<SimParams, "stepSeconds" | "episodeSteps">>;

export type ParamsFileResult =
  | { readonly success: true; readonly params: SimParamsFile }
  | { readonly success: false; readonly message: string };

export function parseSimParamsFile(text: string): ParamsFileResult {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) return { success: false, message: `YAML: ${doc.errors[0]!.message.split("\n")[0]}` };
  const data = doc.toJS({ maxAliasCount: 100 }) as unknown;
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    return { success: false, message: "Expected a mapping of simulator parameters (sim/params.ts)" };
  }
  const parsed = paramsFileSchema.safeParse(data);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    const where = i.path.length > 0 ? ` at ${i.path.join(".")}` : "";
    return { success: false, message: `${i.message}${where}` };
  }
  return { success: true, params: parsed.data as SimParamsFile };
}

/** The file text: `header` lines as comments, then the parameters in the order given. */
export function formatSimParamsFile(params: SimParamsFile, header: readonly string[]): string {
  const comments = header.map((l) => `# ${l}`.trimEnd()).join("\n");
  return `${comments}\n${stringify(params, { flowCollectionPadding: false })}`;
}
