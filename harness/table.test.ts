import { describe, expect, it } from "vitest";
import { formatTable } from "./table.ts";

describe("formatTable", () => {
  it("gives every number in a column the same decimals (1 with 0.450 prints 1.000)", () => {
    const t = formatTable(
      [
        { p: "a", uptime: 1, cost: 900, mttr: 12.25 },
        { p: "b", uptime: 0.45, cost: 1345.5, mttr: 3 },
        { p: "c", uptime: 0.987, cost: 1000, mttr: null },
      ],
      [
        ["p", "policy"],
        ["uptime", "uptime"],
        ["cost", "cost"],
        ["mttr", "MTTR"],
      ],
    );
    expect(t.split("\n").slice(2)).toEqual([
      "a        1.000   900.0  12.3",
      "b        0.450  1345.5   3.0",
      "c        0.987  1000.0     -",
    ]);
  });

  it("keeps integer-only columns integers", () => {
    expect(
      formatTable([{ n: 2 }, { n: 10 }], [["n", "episodes"]])
        .split("\n")
        .slice(2),
    ).toEqual(["       2", "      10"]);
  });
});
