/**
 * A minimal leveled logger writing one line per message to stderr (stdout stays free for
 * program output such as segments or JSON). Tests and embedders replace the sink.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export type LogSink = (level: Exclude<LogLevel, 'silent'>, line: string) => void;

let threshold: LogLevel = (process.env.CAUSEWAY_LOG as LogLevel | undefined) ?? 'info';
let sink: LogSink = (_level, line) => process.stderr.write(line + '\n');

export function setLogLevel(level: LogLevel): void {
  threshold = level;
}

/** Replace where log lines go; returns the previous sink so it can be restored. */
export function setLogSink(next: LogSink): LogSink {
  const prev = sink;
  sink = next;
  return prev;
}

function emit(level: Exclude<LogLevel, 'silent'>, scope: string, message: string): void {
  if (ORDER[level] < ORDER[threshold]) return;
  sink(level, `[causeway] ${level} ${scope}: ${message}`);
}

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export function logger(scope: string): Logger {
  return {
    debug: (m) => emit('debug', scope, m),
    info: (m) => emit('info', scope, m),
    warn: (m) => emit('warn', scope, m),
    error: (m) => emit('error', scope, m),
  };
}
