/**
 * Fastify gives every request a child logger bound to its request id. Making one (pino bindings, redaction set-up)
 * cost more than the rest of a `304`, and almost no request logs anything but its one access line, which is written
 * through the root logger with the id in it. So the child is made only when something logs through `request.log`.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions } from 'pino';

type Args = Parameters<FastifyBaseLogger['info']>;

class LazyChildLogger {
  readonly #parent: FastifyBaseLogger;
  readonly #bindings: Bindings;
  readonly #options: ChildLoggerOptions;
  #child: FastifyBaseLogger | undefined;

  constructor(parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions) {
    this.#parent = parent;
    this.#bindings = bindings;
    this.#options = options;
  }

  #real(): FastifyBaseLogger {
    return (this.#child ??= this.#parent.child(this.#bindings, this.#options));
  }

  get level(): string {
    return this.#child?.level ?? this.#options.level ?? this.#parent.level;
  }
  set level(level: string) {
    this.#real().level = level;
  }
  fatal(...args: Args): void {
    this.#real().fatal(...args);
  }
  error(...args: Args): void {
    this.#real().error(...args);
  }
  warn(...args: Args): void {
    this.#real().warn(...args);
  }
  info(...args: Args): void {
    this.#real().info(...args);
  }
  debug(...args: Args): void {
    this.#real().debug(...args);
  }
  trace(...args: Args): void {
    this.#real().trace(...args);
  }
  silent(...args: Args): void {
    this.#real().silent(...args);
  }
  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#real().child(bindings, options);
  }
}

export function lazyChildLogger(parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  return new LazyChildLogger(parent, bindings, options) as unknown as FastifyBaseLogger;
}
