/**
 * Point labels that never overlap: vega-lite has no label-placement transform, so a chart
 * that labels its points (cost.ts) places them here, in pixels, before the spec is built.
 * Greedy, in the order given: each label takes the first candidate position around its point
 * (right, left, above, below, the diagonals; then farther out, diagonals first, with a
 * leader line) whose box stays inside the plot and touches no point and no label placed before it.
 * Deterministic and pure.
 */

export interface Anchor {
  /** The point, in pixels from the plot's top left. */
  readonly x: number;
  readonly y: number;
  /** The point's radius in pixels (its mark's size). */
  readonly r: number;
  /** The label's box, in pixels (text-width.ts measures the width). */
  readonly width: number;
  readonly height: number;
}

export interface Placed {
  /** The label's left edge and vertical middle, in pixels (text align left, baseline middle). */
  readonly x: number;
  readonly y: number;
  /** Placed away from its point: draw a line from the point to it. */
  readonly leader: boolean;
}

/** A rectangle in pixels: a line or bar the labels must keep off too. */
export interface Box {
  readonly left: number;
  readonly top: number;
  readonly right: number;
  readonly bottom: number;
}

const overlaps = (a: Box, b: Box) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;

/** Clear space kept between a label and a point or another label, in pixels. */
const PAD = 2;

/** Where a label may go, as (left, middle) for a point at (x, y) with gap `g`. */
function candidates(a: Anchor, g: number): [number, number][] {
  const { x, y, width: w, height: h } = a;
  const d = g * 0.75;
  return [
    [x + g, y],
    [x - g - w, y],
    [x - w / 2, y - g - h / 2],
    [x - w / 2, y + g + h / 2],
    [x + d, y - d - h / 2],
    [x - d - w, y - d - h / 2],
    [x + d, y + d + h / 2],
    [x - d - w, y + d + h / 2],
  ];
}

/**
 * A position for each label, or null where none fits in `area` (the caller leaves that label
 * out, or shows it elsewhere).
 */
export function placeLabels(
  anchors: readonly Anchor[],
  area: { width: number; height: number },
  obstacles: readonly Box[] = [],
): (Placed | null)[] {
  const taken: Box[] = [...obstacles];
  taken.push(
    ...anchors.map((a) => ({
      left: a.x - a.r - PAD,
      top: a.y - a.r - PAD,
      right: a.x + a.r + PAD,
      bottom: a.y + a.r + PAD,
    })),
  );
  return anchors.map((a) => {
    for (const [ring, leader] of [
      [1, false],
      [2.5, true],
      [4, true],
    ] as const) {
      const around = candidates(a, (a.r + 4) * ring);
      // Away from the point, diagonals first: a leader line along an axis would run along the
      // point's own interval bar and read as part of it.
      const order = leader ? [...around.slice(4), ...around.slice(0, 4)] : around;
      for (const [left, mid] of order) {
        const box = { left, top: mid - a.height / 2, right: left + a.width, bottom: mid + a.height / 2 };
        const inside = box.left >= 0 && box.top >= 0 && box.right <= area.width && box.bottom <= area.height;
        const padded = { left: box.left - PAD, top: box.top - PAD, right: box.right + PAD, bottom: box.bottom + PAD };
        if (inside && !taken.some((t) => overlaps(padded, t))) {
          taken.push(box);
          return { x: left, y: mid, leader };
        }
      }
    }
    return null;
  });
}
