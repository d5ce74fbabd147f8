/** Reads Sluice's Prometheus text from /metrics: the samples of one metric, by their label text. */
export async function metricSamples(base: string, name: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const samples: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^(\S+?)(\{[^}]*\})? (\S+)$/.exec(line);
    if (match?.[1] !== undefined && match[3] !== undefined)
      samples[match[1] + (match[2] ?? '')] = Number(match[3]);
  }
  return samples;
}
