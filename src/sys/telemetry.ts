// OpenTelemetry for one CLI run: on only when the standard variables ask for it
// (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, and not OTEL_SDK_DISABLED),
// with the official SDK and OTLP/HTTP exporter, which read the rest of the standard variables
// themselves (headers, protocol paths, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES). Off, nothing
// here is imported (bin/agentkeys.ts imports this module only when tracingRequested says so).
import { installTracer } from './tracing.js';

export function tracingRequested(env: Readonly<Record<string, string | undefined>>): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').toLowerCase() === 'true') return false;
  if ((env.OTEL_TRACES_EXPORTER ?? 'otlp') === 'none') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

export interface Telemetry {
  /** Sends what is buffered; a collector that does not answer costs at most a few seconds. */
  shutdown(): Promise<void>;
}

export async function startTelemetry(
  version: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<Telemetry> {
  const [api, node, base, otlp, resources] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
  ]);
  const provider = new node.NodeTracerProvider({
    resource: resources.defaultResource().merge(
      resources.resourceFromAttributes({
        'service.name': env.OTEL_SERVICE_NAME ?? 'agentkeys',
        'service.version': version,
      }),
    ),
    // A collector that does not answer costs a CLI run 3 s at most, unless the operator's timeout says otherwise.
    spanProcessors: [
      new base.BatchSpanProcessor(new otlp.OTLPTraceExporter(hasTimeout(env) ? {} : { timeoutMillis: 3000 })),
    ],
  });
  provider.register();
  installTracer(api.trace.getTracer('agentkeys', version), api.SpanStatusCode.ERROR);
  return { shutdown: () => provider.shutdown() };
}

const hasTimeout = (env: Readonly<Record<string, string | undefined>>) =>
  Boolean(env.OTEL_EXPORTER_OTLP_TIMEOUT || env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT);
