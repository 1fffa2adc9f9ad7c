// Prometheus's text exposition format (the one node_exporter's textfile collector and /metrics
// endpoints speak): a HELP and a TYPE line per metric, then its samples, label values escaped.

export type Labels = Readonly<Record<string, string>>;

export function sampleLine(name: string, labels: Labels | undefined, value: number): string {
  return `${name}${labelText(labels)} ${value}`;
}

export function metricBlock(
  name: string,
  help: string,
  type: 'gauge' | 'counter' | 'histogram',
  lines: string[],
): string {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines].join('\n');
}

function labelText(labels: Labels | undefined): string {
  if (!labels || Object.keys(labels).length === 0) return '';
  const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  return `{${Object.entries(labels)
    .map(([k, v]) => `${k}="${escape(v)}"`)
    .join(',')}}`;
}
