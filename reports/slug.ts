/**
 * Heading anchors as GitHub makes them (github-slugger's rule), so that the Markdown report's
 * table of contents links work where the report is read: a CI job summary, a PR comment, a
 * README view. Lower case; everything but letters, marks, digits, connector punctuation,
 * spaces and hyphens dropped; spaces to hyphens; a repeated slug gets `-1`, `-2`, ...
 */
export class Slugger {
  /** Slug -> how many times it has been repeated (github-slugger's `occurrences`). */
  readonly #occurrences = new Map<string, number>();

  slug(text: string): string {
    const original = text
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
      .replaceAll(" ", "-");
    let slug = original;
    // A numbered `x-1` may itself be taken (by a heading titled "x-1"): count on until free.
    while (this.#occurrences.has(slug)) {
      const n = this.#occurrences.get(original)! + 1;
      this.#occurrences.set(original, n);
      slug = `${original}-${n}`;
    }
    this.#occurrences.set(slug, 0);
    return slug;
  }
}
