// Spans, when OpenTelemetry is on (OTEL_EXPORTER_OTLP_ENDPOINT, src/sys/telemetry.ts), and nothing
// at all when it is off: no @opentelemetry module is loaded, and withSpan is a plain call. Core
// code marks its phases with withSpan; the telemetry start installs the tracer.
import type { Attributes, Tracer } from '@opentelemetry/api';

let tracer: Tracer | undefined;
let errorStatus = 2; // SpanStatusCode.ERROR, without importing the API when tracing is off

export function installTracer(t: Tracer, errorCode: number): void {
  tracer = t;
  errorStatus = errorCode;
}

/** Runs `fn` inside a span named `name` (a child of the active one); an error ends it as an error. */
export async function withSpan<T>(name: string, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  if (!tracer) return fn();
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn();
    } catch (err) {
      span.setStatus({ code: errorStatus, message: err instanceof Error ? err.message : String(err) });
      throw err;
    } finally {
      span.end();
    }
  });
}

export const tracingOn = (): boolean => tracer !== undefined;
