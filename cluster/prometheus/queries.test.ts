import { describe, expect, it } from "vitest";
import { defaultPodPattern, observationParts, observationQuery, rateWindowSeconds } from "./queries.ts";

describe("rate window", () => {
  it("is four scrapes when the step is short", () => {
    expect(rateWindowSeconds(1, 1)).toBe(4);
    expect(rateWindowSeconds(1, 2)).toBe(4);
  });
  it("covers the step plus one scrape when the step is long", () => {
    expect(rateWindowSeconds(1, 10)).toBe(11);
    expect(rateWindowSeconds(15, 60)).toBe(75);
  });
});

describe("observation query", () => {
  const params = { namespace: "prod", deployment: "web.v2", podPattern: defaultPodPattern("web.v2"), windowS: 4 };

  it("matches ReplicaSet pod names of the deployment only, with regex characters escaped", () => {
    const re = new RegExp(`^(?:${defaultPodPattern("web.v2")})$`);
    expect(re.test("web.v2-7d4b9c8f6-x2k9p")).toBe(true);
    expect(re.test("webxv2-7d4b9c8f6-x2k9p")).toBe(false);
    expect(re.test("web.v2-canary")).toBe(false);
  });

  it("is one request: every part tagged with its name and joined by or", () => {
    const q = observationQuery(params);
    const parts = Object.keys(observationParts(params));
    for (const p of parts) expect(q).toContain(`"q", "${p}", "", "")`);
    expect(q.split("\nor ")).toHaveLength(parts.length);
  });

  it("puts the rate window in every rate", () => {
    const q = observationQuery(params);
    expect(q.match(/rate\(/g)!.length).toBe(q.match(/\[4000ms\]/g)!.length);
  });
});
