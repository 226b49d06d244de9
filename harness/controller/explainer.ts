/**
 * Why the controller's policy decided what it did (issue 15, part 4): after each step, the
 * exact Shapley attributions of the decision (policies/service/explain.ts) against the
 * healthy background, from the agent service's `POST /explain` (`agentUrl`) or from the
 * local rl model, and the `top` largest by |phi| go into the audit trail beside the step.
 * Off the loop's path: a step never waits for its explanation, and one that fails (the agent
 * down) is simply not written; `settle()` waits for those in flight before the last batch
 * of the trace is committed.
 */
import { OBS_V1 } from "../core/contract.ts";
import { HarnessError } from "../core/errors.ts";

export interface DecisionExplanation {
  readonly actionName: string;
  readonly output: number;
  readonly base: number;
  readonly top: readonly { readonly feature: string; readonly value: number; readonly phi: number }[];
}

type Explain = (state: readonly number[]) => Promise<{
  actionName: string;
  output: number;
  base: number;
  attributions: readonly { feature: string; value: number; phi: number }[];
}>;

export class DecisionExplainer {
  private readonly inFlight = new Set<Promise<void>>();

  private constructor(
    private readonly explainFn: Explain,
    private readonly top: number,
    private readonly dispose: () => Promise<void>,
  ) {}

  /** Through a running agent service. */
  static forAgent(url: string, timeoutMs: number, top: number): DecisionExplainer {
    const endpoint = `${url.replace(/\/$/, "")}/explain`;
    return new DecisionExplainer(
      async (state) => {
        const res = await fetch(endpoint, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ state }),
          signal: AbortSignal.timeout(timeoutMs),
        });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const { explainResponseSchema } = await import("../../policies/service/schemas.ts");
        return explainResponseSchema.parse(await res.json());
      },
      top,
      async () => {},
    );
  }

  /** With the local rl policy's model file (loaded once more here). */
  static async forModel(file: string, top: number): Promise<DecisionExplainer> {
    const { loadOnnxModel } = await import("../../policies/onnx-model.ts");
    const { explain } = await import("../../policies/service/explain.ts");
    const model = await loadOnnxModel(file, { logger: { warn: () => {} } });
    // The loop hands the explainer each step's recorded obs-v1 vector, not the policy's own feed.
    if (model.codec.name !== OBS_V1.name) {
      await model.dispose();
      throw new HarnessError(
        "usage",
        `explainTop: the controller explains each step's recorded ${OBS_V1.name} state, and model ${file} reads ${model.codec.name}; set explainTop: 0 for this model`,
      );
    }
    return new DecisionExplainer(
      (state) => explain(model, state),
      top,
      () => model.dispose(),
    );
  }

  /** Explains `state` (copied now: the loop reuses its buffer) and hands the result to `write`. */
  explain(state: ArrayLike<number>, write: (e: DecisionExplanation) => void): void {
    const s = Array.from(state).slice(0, OBS_V1.dim);
    const p = this.explainFn(s)
      .then((e) => {
        const top = [...e.attributions]
          .sort((a, b) => Math.abs(b.phi) - Math.abs(a.phi))
          .slice(0, this.top)
          .map(({ feature, value, phi }) => ({ feature, value, phi }));
        write({ actionName: e.actionName, output: e.output, base: e.base, top });
      })
      .catch(() => {
        // The agent being down is recorded by the loop (policy-error); no explanation then.
      })
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  /** Waits for the explanations in flight (their `write` has run when it resolves). */
  async settle(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }

  /** Waits for the explanations in flight, then releases the model. */
  async close(): Promise<void> {
    await this.settle();
    await this.dispose();
  }
}
