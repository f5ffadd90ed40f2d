/** GET one of the daemon's JSON documents (config, colormaps). */

/** The parsed body of `url`; null when the daemon does not answer or says no. */
export async function fetchJson(url) {
  try {
    const response = await fetch(url, { cache: "no-store" });
    return response.ok ? await response.json() : null;
  } catch {
    return null;
  }
}
