import { decodeMessage, encodeMessage, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface Hello {
  protocolVersion: number
  nodeId: string
  subnet: string
  registryVersion: number
  bulkWindow: number
  appDigest: Uint8Array<ArrayBuffer>
}

export namespace Hello {
  let _codec: Codec<Hello>

  export const codec = (): Codec<Hello> => {
    if (_codec == null) {
      _codec = message<Hello>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.protocolVersion != null && obj.protocolVersion !== 0)) {
          w.uint32(8)
          w.uint32(obj.protocolVersion)
        }

        if ((obj.nodeId != null && obj.nodeId !== '')) {
          w.uint32(18)
          w.string(obj.nodeId)
        }

        if ((obj.subnet != null && obj.subnet !== '')) {
          w.uint32(26)
          w.string(obj.subnet)
        }

        if ((obj.registryVersion != null && obj.registryVersion !== 0)) {
          w.uint32(32)
          w.uint64Number(obj.registryVersion)
        }

        if ((obj.bulkWindow != null && obj.bulkWindow !== 0)) {
          w.uint32(40)
          w.uint64Number(obj.bulkWindow)
        }

        if ((obj.appDigest != null && obj.appDigest.byteLength > 0)) {
          w.uint32(50)
          w.bytes(obj.appDigest)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          protocolVersion: 0,
          nodeId: '',
          subnet: '',
          registryVersion: 0,
          bulkWindow: 0,
          appDigest: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.protocolVersion = reader.uint32()
              break
            }
            case 2: {
              obj.nodeId = reader.string()
              break
            }
            case 3: {
              obj.subnet = reader.string()
              break
            }
            case 4: {
              obj.registryVersion = reader.uint64Number()
              break
            }
            case 5: {
              obj.bulkWindow = reader.uint64Number()
              break
            }
            case 6: {
              obj.appDigest = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.protocolVersion`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.nodeId`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.subnet`,
                value: reader.string()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.registryVersion`,
                value: reader.uint64Number()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.bulkWindow`,
                value: reader.uint64Number()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.appDigest`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface HelloProtocolVersionFieldEvent {
    field: '$.protocolVersion'
    value: number
  }

  export interface HelloNodeIdFieldEvent {
    field: '$.nodeId'
    value: string
  }

  export interface HelloSubnetFieldEvent {
    field: '$.subnet'
    value: string
  }

  export interface HelloRegistryVersionFieldEvent {
    field: '$.registryVersion'
    value: number
  }

  export interface HelloBulkWindowFieldEvent {
    field: '$.bulkWindow'
    value: number
  }

  export interface HelloAppDigestFieldEvent {
    field: '$.appDigest'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Hello>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Hello.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Hello>): Hello {
    return decodeMessage(buf, Hello.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Hello>): Generator<HelloProtocolVersionFieldEvent | HelloNodeIdFieldEvent | HelloSubnetFieldEvent | HelloRegistryVersionFieldEvent | HelloBulkWindowFieldEvent | HelloAppDigestFieldEvent> {
    return streamMessage(buf, Hello.codec(), opts)
  }
}

export interface Ping {
  nonce: number
}

export namespace Ping {
  let _codec: Codec<Ping>

  export const codec = (): Codec<Ping> => {
    if (_codec == null) {
      _codec = message<Ping>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.nonce != null && obj.nonce !== 0)) {
          w.uint32(8)
          w.uint64Number(obj.nonce)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          nonce: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.nonce = reader.uint64Number()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.nonce`,
                value: reader.uint64Number()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface PingNonceFieldEvent {
    field: '$.nonce'
    value: number
  }

  export function encode (obj: Partial<Ping>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Ping.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Ping>): Ping {
    return decodeMessage(buf, Ping.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Ping>): Generator<PingNonceFieldEvent> {
    return streamMessage(buf, Ping.codec(), opts)
  }
}

export interface Pong {
  nonce: number
}

export namespace Pong {
  let _codec: Codec<Pong>

  export const codec = (): Codec<Pong> => {
    if (_codec == null) {
      _codec = message<Pong>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.nonce != null && obj.nonce !== 0)) {
          w.uint32(8)
          w.uint64Number(obj.nonce)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          nonce: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.nonce = reader.uint64Number()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.nonce`,
                value: reader.uint64Number()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface PongNonceFieldEvent {
    field: '$.nonce'
    value: number
  }

  export function encode (obj: Partial<Pong>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Pong.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Pong>): Pong {
    return decodeMessage(buf, Pong.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Pong>): Generator<PongNonceFieldEvent> {
    return streamMessage(buf, Pong.codec(), opts)
  }
}

export interface Goodbye {
  reason: string
}

export namespace Goodbye {
  let _codec: Codec<Goodbye>

  export const codec = (): Codec<Goodbye> => {
    if (_codec == null) {
      _codec = message<Goodbye>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.reason != null && obj.reason !== '')) {
          w.uint32(10)
          w.string(obj.reason)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          reason: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.reason = reader.string()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.reason`,
                value: reader.string()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface GoodbyeReasonFieldEvent {
    field: '$.reason'
    value: string
  }

  export function encode (obj: Partial<Goodbye>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Goodbye.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Goodbye>): Goodbye {
    return decodeMessage(buf, Goodbye.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Goodbye>): Generator<GoodbyeReasonFieldEvent> {
    return streamMessage(buf, Goodbye.codec(), opts)
  }
}

export interface Request {
  id: number
  timeoutMs: number
  body: Uint8Array<ArrayBuffer>
}

export namespace Request {
  let _codec: Codec<Request>

  export const codec = (): Codec<Request> => {
    if (_codec == null) {
      _codec = message<Request>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id !== 0)) {
          w.uint32(8)
          w.uint64Number(obj.id)
        }

        if ((obj.timeoutMs != null && obj.timeoutMs !== 0)) {
          w.uint32(16)
          w.uint32(obj.timeoutMs)
        }

        if ((obj.body != null && obj.body.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.body)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: 0,
          timeoutMs: 0,
          body: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.id = reader.uint64Number()
              break
            }
            case 2: {
              obj.timeoutMs = reader.uint32()
              break
            }
            case 3: {
              obj.body = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.id`,
                value: reader.uint64Number()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.timeoutMs`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.body`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface RequestIdFieldEvent {
    field: '$.id'
    value: number
  }

  export interface RequestTimeoutMsFieldEvent {
    field: '$.timeoutMs'
    value: number
  }

  export interface RequestBodyFieldEvent {
    field: '$.body'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Request>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Request.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Request>): Request {
    return decodeMessage(buf, Request.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Request>): Generator<RequestIdFieldEvent | RequestTimeoutMsFieldEvent | RequestBodyFieldEvent> {
    return streamMessage(buf, Request.codec(), opts)
  }
}

export interface Response {
  id: number
  body: Uint8Array<ArrayBuffer>
  errorCode: string
  errorMessage: string
}

export namespace Response {
  let _codec: Codec<Response>

  export const codec = (): Codec<Response> => {
    if (_codec == null) {
      _codec = message<Response>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id !== 0)) {
          w.uint32(8)
          w.uint64Number(obj.id)
        }

        if ((obj.body != null && obj.body.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.body)
        }

        if ((obj.errorCode != null && obj.errorCode !== '')) {
          w.uint32(26)
          w.string(obj.errorCode)
        }

        if ((obj.errorMessage != null && obj.errorMessage !== '')) {
          w.uint32(34)
          w.string(obj.errorMessage)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: 0,
          body: uint8ArrayAlloc(0),
          errorCode: '',
          errorMessage: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.id = reader.uint64Number()
              break
            }
            case 2: {
              obj.body = reader.bytes()
              break
            }
            case 3: {
              obj.errorCode = reader.string()
              break
            }
            case 4: {
              obj.errorMessage = reader.string()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.id`,
                value: reader.uint64Number()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.body`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.errorCode`,
                value: reader.string()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.errorMessage`,
                value: reader.string()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ResponseIdFieldEvent {
    field: '$.id'
    value: number
  }

  export interface ResponseBodyFieldEvent {
    field: '$.body'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ResponseErrorCodeFieldEvent {
    field: '$.errorCode'
    value: string
  }

  export interface ResponseErrorMessageFieldEvent {
    field: '$.errorMessage'
    value: string
  }

  export function encode (obj: Partial<Response>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Response.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Response>): Response {
    return decodeMessage(buf, Response.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Response>): Generator<ResponseIdFieldEvent | ResponseBodyFieldEvent | ResponseErrorCodeFieldEvent | ResponseErrorMessageFieldEvent> {
    return streamMessage(buf, Response.codec(), opts)
  }
}

export interface Cancel {
  id: number
}

export namespace Cancel {
  let _codec: Codec<Cancel>

  export const codec = (): Codec<Cancel> => {
    if (_codec == null) {
      _codec = message<Cancel>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id !== 0)) {
          w.uint32(8)
          w.uint64Number(obj.id)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.id = reader.uint64Number()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.id`,
                value: reader.uint64Number()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface CancelIdFieldEvent {
    field: '$.id'
    value: number
  }

  export function encode (obj: Partial<Cancel>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Cancel.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Cancel>): Cancel {
    return decodeMessage(buf, Cancel.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Cancel>): Generator<CancelIdFieldEvent> {
    return streamMessage(buf, Cancel.codec(), opts)
  }
}

export interface Credit {
  bytes: number
}

export namespace Credit {
  let _codec: Codec<Credit>

  export const codec = (): Codec<Credit> => {
    if (_codec == null) {
      _codec = message<Credit>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.bytes != null && obj.bytes !== 0)) {
          w.uint32(8)
          w.uint64Number(obj.bytes)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          bytes: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.bytes = reader.uint64Number()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.bytes`,
                value: reader.uint64Number()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface CreditBytesFieldEvent {
    field: '$.bytes'
    value: number
  }

  export function encode (obj: Partial<Credit>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Credit.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Credit>): Credit {
    return decodeMessage(buf, Credit.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Credit>): Generator<CreditBytesFieldEvent> {
    return streamMessage(buf, Credit.codec(), opts)
  }
}

export interface Envelope {
  hello?: Hello
  ping?: Ping
  pong?: Pong
  goodbye?: Goodbye
  request?: Request
  response?: Response
  cancel?: Cancel
  message?: Uint8Array<ArrayBuffer>
  credit?: Credit
}

export namespace Envelope {
  let _codec: Codec<Envelope>

  export const codec = (): Codec<Envelope> => {
    if (_codec == null) {
      _codec = message<Envelope>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        obj = { ...obj }

        if (obj.credit != null) {
          obj.message = undefined
          obj.cancel = undefined
          obj.response = undefined
          obj.request = undefined
          obj.goodbye = undefined
          obj.pong = undefined
          obj.ping = undefined
          obj.hello = undefined
        }

        if (obj.message != null) {
          obj.credit = undefined
          obj.cancel = undefined
          obj.response = undefined
          obj.request = undefined
          obj.goodbye = undefined
          obj.pong = undefined
          obj.ping = undefined
          obj.hello = undefined
        }

        if (obj.cancel != null) {
          obj.credit = undefined
          obj.message = undefined
          obj.response = undefined
          obj.request = undefined
          obj.goodbye = undefined
          obj.pong = undefined
          obj.ping = undefined
          obj.hello = undefined
        }

        if (obj.response != null) {
          obj.credit = undefined
          obj.message = undefined
          obj.cancel = undefined
          obj.request = undefined
          obj.goodbye = undefined
          obj.pong = undefined
          obj.ping = undefined
          obj.hello = undefined
        }

        if (obj.request != null) {
          obj.credit = undefined
          obj.message = undefined
          obj.cancel = undefined
          obj.response = undefined
          obj.goodbye = undefined
          obj.pong = undefined
          obj.ping = undefined
          obj.hello = undefined
        }

        if (obj.goodbye != null) {
          obj.credit = undefined
          obj.message = undefined
          obj.cancel = undefined
          obj.response = undefined
          obj.request = undefined
          obj.pong = undefined
          obj.ping = undefined
          obj.hello = undefined
        }

        if (obj.pong != null) {
          obj.credit = undefined
          obj.message = undefined
          obj.cancel = undefined
          obj.response = undefined
          obj.request = undefined
          obj.goodbye = undefined
          obj.ping = undefined
          obj.hello = undefined
        }

        if (obj.ping != null) {
          obj.credit = undefined
          obj.message = undefined
          obj.cancel = undefined
          obj.response = undefined
          obj.request = undefined
          obj.goodbye = undefined
          obj.pong = undefined
          obj.hello = undefined
        }

        if (obj.hello != null) {
          obj.credit = undefined
          obj.message = undefined
          obj.cancel = undefined
          obj.response = undefined
          obj.request = undefined
          obj.goodbye = undefined
          obj.pong = undefined
          obj.ping = undefined
        }

        if (obj.hello != null) {
          w.uint32(10)
          Hello.codec().encode(obj.hello, w)
        }

        if (obj.ping != null) {
          w.uint32(18)
          Ping.codec().encode(obj.ping, w)
        }

        if (obj.pong != null) {
          w.uint32(26)
          Pong.codec().encode(obj.pong, w)
        }

        if (obj.goodbye != null) {
          w.uint32(34)
          Goodbye.codec().encode(obj.goodbye, w)
        }

        if (obj.request != null) {
          w.uint32(42)
          Request.codec().encode(obj.request, w)
        }

        if (obj.response != null) {
          w.uint32(50)
          Response.codec().encode(obj.response, w)
        }

        if (obj.cancel != null) {
          w.uint32(58)
          Cancel.codec().encode(obj.cancel, w)
        }

        if (obj.message != null) {
          w.uint32(66)
          w.bytes(obj.message)
        }

        if (obj.credit != null) {
          w.uint32(74)
          Credit.codec().encode(obj.credit, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {}

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.hello = Hello.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.hello
              })
              break
            }
            case 2: {
              obj.ping = Ping.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.ping
              })
              break
            }
            case 3: {
              obj.pong = Pong.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.pong
              })
              break
            }
            case 4: {
              obj.goodbye = Goodbye.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.goodbye
              })
              break
            }
            case 5: {
              obj.request = Request.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.request
              })
              break
            }
            case 6: {
              obj.response = Response.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.response
              })
              break
            }
            case 7: {
              obj.cancel = Cancel.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.cancel
              })
              break
            }
            case 8: {
              obj.message = reader.bytes()
              break
            }
            case 9: {
              obj.credit = Credit.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.credit
              })
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        if (obj.credit != null) {
          delete obj.message
          delete obj.cancel
          delete obj.response
          delete obj.request
          delete obj.goodbye
          delete obj.pong
          delete obj.ping
          delete obj.hello
        }

        if (obj.message != null) {
          delete obj.credit
          delete obj.cancel
          delete obj.response
          delete obj.request
          delete obj.goodbye
          delete obj.pong
          delete obj.ping
          delete obj.hello
        }

        if (obj.cancel != null) {
          delete obj.credit
          delete obj.message
          delete obj.response
          delete obj.request
          delete obj.goodbye
          delete obj.pong
          delete obj.ping
          delete obj.hello
        }

        if (obj.response != null) {
          delete obj.credit
          delete obj.message
          delete obj.cancel
          delete obj.request
          delete obj.goodbye
          delete obj.pong
          delete obj.ping
          delete obj.hello
        }

        if (obj.request != null) {
          delete obj.credit
          delete obj.message
          delete obj.cancel
          delete obj.response
          delete obj.goodbye
          delete obj.pong
          delete obj.ping
          delete obj.hello
        }

        if (obj.goodbye != null) {
          delete obj.credit
          delete obj.message
          delete obj.cancel
          delete obj.response
          delete obj.request
          delete obj.pong
          delete obj.ping
          delete obj.hello
        }

        if (obj.pong != null) {
          delete obj.credit
          delete obj.message
          delete obj.cancel
          delete obj.response
          delete obj.request
          delete obj.goodbye
          delete obj.ping
          delete obj.hello
        }

        if (obj.ping != null) {
          delete obj.credit
          delete obj.message
          delete obj.cancel
          delete obj.response
          delete obj.request
          delete obj.goodbye
          delete obj.pong
          delete obj.hello
        }

        if (obj.hello != null) {
          delete obj.credit
          delete obj.message
          delete obj.cancel
          delete obj.response
          delete obj.request
          delete obj.goodbye
          delete obj.pong
          delete obj.ping
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * Hello.codec().stream(reader, reader.uint32(), `${prefix}.hello`, {
                limits: opts.limits?.hello
              })

              break
            }
            case 2: {
              yield * Ping.codec().stream(reader, reader.uint32(), `${prefix}.ping`, {
                limits: opts.limits?.ping
              })

              break
            }
            case 3: {
              yield * Pong.codec().stream(reader, reader.uint32(), `${prefix}.pong`, {
                limits: opts.limits?.pong
              })

              break
            }
            case 4: {
              yield * Goodbye.codec().stream(reader, reader.uint32(), `${prefix}.goodbye`, {
                limits: opts.limits?.goodbye
              })

              break
            }
            case 5: {
              yield * Request.codec().stream(reader, reader.uint32(), `${prefix}.request`, {
                limits: opts.limits?.request
              })

              break
            }
            case 6: {
              yield * Response.codec().stream(reader, reader.uint32(), `${prefix}.response`, {
                limits: opts.limits?.response
              })

              break
            }
            case 7: {
              yield * Cancel.codec().stream(reader, reader.uint32(), `${prefix}.cancel`, {
                limits: opts.limits?.cancel
              })

              break
            }
            case 8: {
              yield {
                field: `${prefix}.message`,
                value: reader.bytes()
              }
              break
            }
            case 9: {
              yield * Credit.codec().stream(reader, reader.uint32(), `${prefix}.credit`, {
                limits: opts.limits?.credit
              })

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface EnvelopeHelloProtocolVersionFieldEvent {
    field: '$.hello.protocolVersion'
    value: number
  }

  export interface EnvelopeHelloNodeIdFieldEvent {
    field: '$.hello.nodeId'
    value: string
  }

  export interface EnvelopeHelloSubnetFieldEvent {
    field: '$.hello.subnet'
    value: string
  }

  export interface EnvelopeHelloRegistryVersionFieldEvent {
    field: '$.hello.registryVersion'
    value: number
  }

  export interface EnvelopeHelloBulkWindowFieldEvent {
    field: '$.hello.bulkWindow'
    value: number
  }

  export interface EnvelopeHelloAppDigestFieldEvent {
    field: '$.hello.appDigest'
    value: Uint8Array<ArrayBuffer>
  }

  export interface EnvelopePingNonceFieldEvent {
    field: '$.ping.nonce'
    value: number
  }

  export interface EnvelopePongNonceFieldEvent {
    field: '$.pong.nonce'
    value: number
  }

  export interface EnvelopeGoodbyeReasonFieldEvent {
    field: '$.goodbye.reason'
    value: string
  }

  export interface EnvelopeRequestIdFieldEvent {
    field: '$.request.id'
    value: number
  }

  export interface EnvelopeRequestTimeoutMsFieldEvent {
    field: '$.request.timeoutMs'
    value: number
  }

  export interface EnvelopeRequestBodyFieldEvent {
    field: '$.request.body'
    value: Uint8Array<ArrayBuffer>
  }

  export interface EnvelopeResponseIdFieldEvent {
    field: '$.response.id'
    value: number
  }

  export interface EnvelopeResponseBodyFieldEvent {
    field: '$.response.body'
    value: Uint8Array<ArrayBuffer>
  }

  export interface EnvelopeResponseErrorCodeFieldEvent {
    field: '$.response.errorCode'
    value: string
  }

  export interface EnvelopeResponseErrorMessageFieldEvent {
    field: '$.response.errorMessage'
    value: string
  }

  export interface EnvelopeCancelIdFieldEvent {
    field: '$.cancel.id'
    value: number
  }

  export interface EnvelopeMessageFieldEvent {
    field: '$.message'
    value: Uint8Array<ArrayBuffer>
  }

  export interface EnvelopeCreditBytesFieldEvent {
    field: '$.credit.bytes'
    value: number
  }

  export function encode (obj: Partial<Envelope>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Envelope.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Envelope>): Envelope {
    return decodeMessage(buf, Envelope.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Envelope>): Generator<EnvelopeHelloProtocolVersionFieldEvent | EnvelopeHelloNodeIdFieldEvent | EnvelopeHelloSubnetFieldEvent | EnvelopeHelloRegistryVersionFieldEvent | EnvelopeHelloBulkWindowFieldEvent | EnvelopeHelloAppDigestFieldEvent | EnvelopePingNonceFieldEvent | EnvelopePongNonceFieldEvent | EnvelopeGoodbyeReasonFieldEvent | EnvelopeRequestIdFieldEvent | EnvelopeRequestTimeoutMsFieldEvent | EnvelopeRequestBodyFieldEvent | EnvelopeResponseIdFieldEvent | EnvelopeResponseBodyFieldEvent | EnvelopeResponseErrorCodeFieldEvent | EnvelopeResponseErrorMessageFieldEvent | EnvelopeCancelIdFieldEvent | EnvelopeMessageFieldEvent | EnvelopeCreditBytesFieldEvent> {
    return streamMessage(buf, Envelope.codec(), opts)
  }
}
