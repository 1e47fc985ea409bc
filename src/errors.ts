/**
 * Every failure subnet-p2p reports is a {@link SubnetP2pError} with a stable `code`, so callers
 * can `switch (err.code)`; the message says what happened and to whom. Causes are chained.
 */

/** The codes the daemon's HTTP API answers a refused request with ({@link ApiRequestError}). */
export type ApiErrorCode =
  | 'ERR_ARTIFACT_TOO_LARGE'
  | 'ERR_BAD_ARTIFACT_ID'
  | 'ERR_BAD_ATTRIBUTES'
  | 'ERR_BAD_ENCODING'
  | 'ERR_BAD_PURGE'
  | 'ERR_BAD_QUERY'
  | 'ERR_BAD_REQUEST'
  | 'ERR_BAD_URL'
  | 'ERR_BODY_TOO_LARGE'
  | 'ERR_FORBIDDEN_HOST'
  | 'ERR_FORBIDDEN_ORIGIN'
  | 'ERR_METHOD_NOT_ALLOWED'
  | 'ERR_NOT_FOUND'
  | 'ERR_SHUTTING_DOWN'
  | 'ERR_TOO_MANY_STREAMS'
  | 'ERR_TOO_MANY_UPLOADS'
  | 'ERR_UNAUTHORIZED'
  | 'ERR_UPLOAD_TOO_SLOW';

/**
 * Every `code` a {@link SubnetP2pError} can have: a closed set, so that a `switch (err.code)`
 * is checked by the compiler. A new error class adds its code here.
 */
export type SubnetP2pErrorCode =
  // Configuration, identity, registry
  | 'ERR_CONFIG'
  | 'ERR_IDENTITY'
  | 'ERR_KEY_EXISTS'
  | 'ERR_REGISTRY_FORMAT'
  | 'ERR_REGISTRY_SIGNATURE'
  | 'ERR_REGISTRY_VERSION'
  | 'ERR_REGISTRY_EDIT'
  // Transport
  | 'ERR_PROTOCOL'
  | 'ERR_PEER_REFUSED'
  | 'ERR_LINK_CLOSED'
  | 'ERR_QUEUE_FULL'
  | 'ERR_MESSAGE_TOO_LARGE'
  | 'ERR_REQUEST_TIMEOUT'
  | 'ERR_ABORTED'
  | 'ERR_REMOTE'
  | 'ERR_INVALID_STATE'
  // Broadcast
  | 'ERR_UNKNOWN_CHANNEL'
  | 'ERR_ARTIFACT_TOO_LARGE'
  | 'ERR_ARTIFACT_EXPIRED'
  | 'ERR_NODE_STOPPED'
  | 'ERR_CHUNKING_OFF'
  | 'ERR_ARTIFACT_NOT_OPEN'
  | 'ERR_BAD_MANIFEST'
  // Daemon and its API client
  | ApiErrorCode
  | 'ERR_API_UNREACHABLE'
  | 'ERR_API_TOKEN'
  | 'ERR_API_ANSWER'
  | 'ERR_DURABLE_WRITE'
  // Command-line tools (cli/demo.ts, cli/sim.ts, sim/load-report.ts)
  | 'ERR_DEMO_INCOMPLETE'
  | 'ERR_DEMO_TOO_LARGE'
  | 'ERR_SIM_INCOMPLETE'
  | 'ERR_REPORT_UNAVAILABLE';

/** Base class of all subnet-p2p errors. */
export class SubnetP2pError extends Error {
  /** Stable, machine-readable code, e.g. `ERR_QUEUE_FULL`. */
  readonly code: SubnetP2pErrorCode;

  constructor(code: SubnetP2pErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

// ---------------------------------------------------------------------------------------------
// Configuration and input files

/** A configuration value is invalid; `field` names it (dotted path). */
export class ConfigError extends SubnetP2pError {
  readonly field: string;
  constructor(field: string, message: string, options?: { cause?: unknown }) {
    super('ERR_CONFIG', `invalid config field '${field}': ${message}`, options);
    this.field = field;
  }
}

// ---------------------------------------------------------------------------------------------
// Identity

/** A key, certificate or NodeId could not be read, parsed or verified. */
export class IdentityError extends SubnetP2pError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_IDENTITY', message, options);
  }
}

/** Refusing to overwrite an existing key file. */
export class KeyExistsError extends SubnetP2pError {
  readonly path: string;
  constructor(path: string) {
    super('ERR_KEY_EXISTS', `refusing to overwrite existing key file ${path}`);
    this.path = path;
  }
}

// ---------------------------------------------------------------------------------------------
// Registry

/** A registry document is malformed; `field` is the JSON path of the offending field. */
export class RegistryFormatError extends SubnetP2pError {
  readonly field: string;
  constructor(field: string, message: string, options?: { cause?: unknown }) {
    super('ERR_REGISTRY_FORMAT', `invalid registry field '${field}': ${message}`, options);
    this.field = field;
  }
}

/** A registry document is unsigned or its signature does not verify with the operator key. */
export class RegistrySignatureError extends SubnetP2pError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_REGISTRY_SIGNATURE', message, options);
  }
}

/** A registry version was not newer than the version already held. */
export class RegistryVersionError extends SubnetP2pError {
  readonly held: number;
  readonly offered: number;
  constructor(held: number, offered: number) {
    super(
      'ERR_REGISTRY_VERSION',
      `registry version ${offered} is not newer than the version held (${held}); ignored`,
    );
    this.held = held;
    this.offered = offered;
  }
}

/** A registry edit cannot be applied (unknown node, duplicate node, bad certificate...). */
export class RegistryEditError extends SubnetP2pError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_REGISTRY_EDIT', message, options);
  }
}

// ---------------------------------------------------------------------------------------------
// Transport

/**
 * The peer broke the wire protocol (bad frame, oversized message, message before hello...).
 * The link to that peer is closed; `reason` is the metric label.
 */
export class ProtocolError extends SubnetP2pError {
  readonly reason: string;
  constructor(reason: string, message: string, options?: { cause?: unknown }) {
    super('ERR_PROTOCOL', message, options);
    this.reason = reason;
  }
}

/** A connection was refused during or right after the TLS handshake; `reason` is the label. */
export class PeerRefusedError extends SubnetP2pError {
  readonly reason: string;
  constructor(reason: string, message: string, options?: { cause?: unknown }) {
    super('ERR_PEER_REFUSED', message, options);
    this.reason = reason;
  }
}

/** The link the operation needed closed (or there is no link to that peer). */
export class LinkClosedError extends SubnetP2pError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_LINK_CLOSED', message, options);
  }
}

/** A send queue is full: the message was not queued. */
export class QueueFullError extends SubnetP2pError {
  constructor(message: string) {
    super('ERR_QUEUE_FULL', message);
  }
}

/** A message is larger than the configured maximum message size. */
export class MessageTooLargeError extends SubnetP2pError {
  constructor(size: number, limit: number) {
    super('ERR_MESSAGE_TOO_LARGE', `message of ${size} bytes exceeds the limit of ${limit} bytes`);
  }
}

/** A request got no response before its deadline. */
export class RequestTimeoutError extends SubnetP2pError {
  constructor(message: string) {
    super('ERR_REQUEST_TIMEOUT', message);
  }
}

/** An operation was aborted through its AbortSignal. */
export class AbortError extends SubnetP2pError {
  constructor(message = 'the operation was aborted', options?: { cause?: unknown }) {
    super('ERR_ABORTED', message, options);
  }
}

/** The remote request handler failed; `remoteCode` is the code it reported. */
export class RemoteError extends SubnetP2pError {
  readonly remoteCode: string;
  constructor(remoteCode: string, message: string) {
    super('ERR_REMOTE', `peer failed the request (${remoteCode}): ${message}`);
    this.remoteCode = remoteCode;
  }
}

/**
 * A call came when its object cannot take it: a transport started twice, or asked for its
 * address before it listens.
 */
export class InvalidStateError extends SubnetP2pError {
  constructor(message: string) {
    super('ERR_INVALID_STATE', message);
  }
}

/** Throws an {@link AbortError} if `signal` is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
}

// ---------------------------------------------------------------------------------------------
// Broadcast

/** No channel of that name is configured. */
export class UnknownChannelError extends SubnetP2pError {
  readonly channel: string;
  constructor(channel: string) {
    super('ERR_UNKNOWN_CHANNEL', `no channel named '${channel}' is configured`);
    this.channel = channel;
  }
}

/** An artifact or its attributes exceed the channel's bounds. */
export class ArtifactTooLargeError extends SubnetP2pError {
  constructor(message: string) {
    super('ERR_ARTIFACT_TOO_LARGE', message);
  }
}

/** An artifact given with an age at or past its channel's `maxAgeMs`: it would expire at once. */
export class ArtifactExpiredError extends SubnetP2pError {
  constructor(message: string) {
    super('ERR_ARTIFACT_EXPIRED', message);
  }
}

/**
 * A chunked (streamed) broadcast on a channel that does not chunk artifacts: its `chunking` is
 * off, or the node has no chunk store for it.
 */
export class ChunkingOffError extends SubnetP2pError {
  readonly channel: string;
  constructor(channel: string) {
    super('ERR_CHUNKING_OFF', `channel '${channel}' has no chunking`);
    this.channel = channel;
  }
}

/** A chunk store was given a chunk of an artifact it was not asked to `open` first. */
export class ArtifactNotOpenError extends SubnetP2pError {
  readonly id: string;
  constructor(id: string) {
    super('ERR_ARTIFACT_NOT_OPEN', `chunk store: artifact ${id} not opened`);
    this.id = id;
  }
}

/** A chunked artifact's manifest does not decode (or breaks its own bounds). */
export class BadManifestError extends SubnetP2pError {
  constructor(message = 'chunk store: invalid manifest') {
    super('ERR_BAD_MANIFEST', message);
  }
}

/** The node (or its broadcast driver) was stopped; no more calls are taken. */
export class NodeStoppedError extends SubnetP2pError {
  constructor() {
    super('ERR_NODE_STOPPED', 'the node is stopped');
  }
}

// ---------------------------------------------------------------------------------------------
// Daemon

/**
 * A request to the daemon's HTTP API cannot be served (bad artifact id, unknown route, too many
 * streams...); `status` is the HTTP status it is answered with.
 */
export class ApiRequestError extends SubnetP2pError {
  readonly status: number;
  constructor(status: number, code: ApiErrorCode, message: string) {
    super(code, message);
    this.status = status;
  }
}

/**
 * A command could not get an answer from a daemon's HTTP API (`subnet-p2p status`): the node
 * is not running or not reachable (`ERR_API_UNREACHABLE`), its token file cannot be read
 * (`ERR_API_TOKEN`), or it answered with an error (`ERR_API_ANSWER`).
 */
export class ApiClientError extends SubnetP2pError {
  constructor(
    code: 'ERR_API_UNREACHABLE' | 'ERR_API_TOKEN' | 'ERR_API_ANSWER',
    message: string,
    options?: ErrorOptions,
  ) {
    super(code, message, options);
  }
}

/**
 * The daemon could not store an accepted artifact durably (write, fsync or rename under
 * `dataDir` failed: a full disk, a read-only or missing folder, an I/O error). The upload is
 * refused (503 `ERR_DURABLE_WRITE`), never acknowledged; `path` is the file concerned.
 */
export class DurableWriteError extends SubnetP2pError {
  readonly path: string;
  constructor(path: string, cause: unknown) {
    const code = (cause as NodeJS.ErrnoException | undefined)?.code ?? String(cause);
    super('ERR_DURABLE_WRITE', `cannot store the artifact durably at ${path} (${code})`, {
      cause,
    });
    this.path = path;
  }
}
