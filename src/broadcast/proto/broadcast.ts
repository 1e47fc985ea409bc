import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface Advert {
  id: Uint8Array<ArrayBuffer>
  size: number
  attributes: Uint8Array<ArrayBuffer>
  pushed: boolean
  manifestSize?: number
}

export namespace Advert {
  let _codec: Codec<Advert>

  export const codec = (): Codec<Advert> => {
    if (_codec == null) {
      _codec = message<Advert>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.id)
        }

        if ((obj.size != null && obj.size !== 0)) {
          w.uint32(16)
          w.uint64Number(obj.size)
        }

        if ((obj.attributes != null && obj.attributes.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.attributes)
        }

        if ((obj.pushed != null && obj.pushed !== false)) {
          w.uint32(32)
          w.bool(obj.pushed)
        }

        if (obj.manifestSize != null) {
          w.uint32(40)
          w.uint32(obj.manifestSize)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: uint8ArrayAlloc(0),
          size: 0,
          attributes: uint8ArrayAlloc(0),
          pushed: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.id = reader.bytes()
              break
            }
            case 2: {
              obj.size = reader.uint64Number()
              break
            }
            case 3: {
              obj.attributes = reader.bytes()
              break
            }
            case 4: {
              obj.pushed = reader.bool()
              break
            }
            case 5: {
              obj.manifestSize = reader.uint32()
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
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.size`,
                value: reader.uint64Number()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.attributes`,
                value: reader.bytes()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.pushed`,
                value: reader.bool()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.manifestSize`,
                value: reader.uint32()
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

  export interface AdvertIdFieldEvent {
    field: '$.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface AdvertSizeFieldEvent {
    field: '$.size'
    value: number
  }

  export interface AdvertAttributesFieldEvent {
    field: '$.attributes'
    value: Uint8Array<ArrayBuffer>
  }

  export interface AdvertPushedFieldEvent {
    field: '$.pushed'
    value: boolean
  }

  export interface AdvertManifestSizeFieldEvent {
    field: '$.manifestSize'
    value: number
  }

  export function encode (obj: Partial<Advert>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Advert.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Advert>): Advert {
    return decodeMessage(buf, Advert.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Advert>): Generator<AdvertIdFieldEvent | AdvertSizeFieldEvent | AdvertAttributesFieldEvent | AdvertPushedFieldEvent | AdvertManifestSizeFieldEvent> {
    return streamMessage(buf, Advert.codec(), opts)
  }
}

export interface Inline {
  artifact: Uint8Array<ArrayBuffer>
  attributes: Uint8Array<ArrayBuffer>
}

export namespace Inline {
  let _codec: Codec<Inline>

  export const codec = (): Codec<Inline> => {
    if (_codec == null) {
      _codec = message<Inline>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.artifact != null && obj.artifact.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.artifact)
        }

        if ((obj.attributes != null && obj.attributes.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.attributes)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          artifact: uint8ArrayAlloc(0),
          attributes: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.artifact = reader.bytes()
              break
            }
            case 2: {
              obj.attributes = reader.bytes()
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
                field: `${prefix}.artifact`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.attributes`,
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

  export interface InlineArtifactFieldEvent {
    field: '$.artifact'
    value: Uint8Array<ArrayBuffer>
  }

  export interface InlineAttributesFieldEvent {
    field: '$.attributes'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Inline>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Inline.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Inline>): Inline {
    return decodeMessage(buf, Inline.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Inline>): Generator<InlineArtifactFieldEvent | InlineAttributesFieldEvent> {
    return streamMessage(buf, Inline.codec(), opts)
  }
}

export interface SlotUpdate {
  slot: number
  commit: number
  advert?: Advert
  inline?: Inline
  withdrawn: boolean
  ageMs?: number
}

export namespace SlotUpdate {
  let _codec: Codec<SlotUpdate>

  export const codec = (): Codec<SlotUpdate> => {
    if (_codec == null) {
      _codec = message<SlotUpdate>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.slot != null && obj.slot !== 0)) {
          w.uint32(8)
          w.uint32(obj.slot)
        }

        if ((obj.commit != null && obj.commit !== 0)) {
          w.uint32(16)
          w.uint64Number(obj.commit)
        }

        if (obj.advert != null) {
          w.uint32(26)
          Advert.codec().encode(obj.advert, w)
        }

        if (obj.inline != null) {
          w.uint32(34)
          Inline.codec().encode(obj.inline, w)
        }

        if ((obj.withdrawn != null && obj.withdrawn !== false)) {
          w.uint32(40)
          w.bool(obj.withdrawn)
        }

        if (obj.ageMs != null) {
          w.uint32(48)
          w.uint64Number(obj.ageMs)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          slot: 0,
          commit: 0,
          withdrawn: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.slot = reader.uint32()
              break
            }
            case 2: {
              obj.commit = reader.uint64Number()
              break
            }
            case 3: {
              obj.advert = Advert.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.advert
              })
              break
            }
            case 4: {
              obj.inline = Inline.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.inline
              })
              break
            }
            case 5: {
              obj.withdrawn = reader.bool()
              break
            }
            case 6: {
              obj.ageMs = reader.uint64Number()
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
                field: `${prefix}.slot`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.commit`,
                value: reader.uint64Number()
              }
              break
            }
            case 3: {
              yield * Advert.codec().stream(reader, reader.uint32(), `${prefix}.advert`, {
                limits: opts.limits?.advert
              })

              break
            }
            case 4: {
              yield * Inline.codec().stream(reader, reader.uint32(), `${prefix}.inline`, {
                limits: opts.limits?.inline
              })

              break
            }
            case 5: {
              yield {
                field: `${prefix}.withdrawn`,
                value: reader.bool()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.ageMs`,
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

  export interface SlotUpdateSlotFieldEvent {
    field: '$.slot'
    value: number
  }

  export interface SlotUpdateCommitFieldEvent {
    field: '$.commit'
    value: number
  }

  export interface SlotUpdateAdvertIdFieldEvent {
    field: '$.advert.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SlotUpdateAdvertSizeFieldEvent {
    field: '$.advert.size'
    value: number
  }

  export interface SlotUpdateAdvertAttributesFieldEvent {
    field: '$.advert.attributes'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SlotUpdateAdvertPushedFieldEvent {
    field: '$.advert.pushed'
    value: boolean
  }

  export interface SlotUpdateAdvertManifestSizeFieldEvent {
    field: '$.advert.manifestSize'
    value: number
  }

  export interface SlotUpdateInlineArtifactFieldEvent {
    field: '$.inline.artifact'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SlotUpdateInlineAttributesFieldEvent {
    field: '$.inline.attributes'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SlotUpdateWithdrawnFieldEvent {
    field: '$.withdrawn'
    value: boolean
  }

  export interface SlotUpdateAgeMsFieldEvent {
    field: '$.ageMs'
    value: number
  }

  export function encode (obj: Partial<SlotUpdate>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SlotUpdate.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SlotUpdate>): SlotUpdate {
    return decodeMessage(buf, SlotUpdate.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SlotUpdate>): Generator<SlotUpdateSlotFieldEvent | SlotUpdateCommitFieldEvent | SlotUpdateAdvertIdFieldEvent | SlotUpdateAdvertSizeFieldEvent | SlotUpdateAdvertAttributesFieldEvent | SlotUpdateAdvertPushedFieldEvent | SlotUpdateAdvertManifestSizeFieldEvent | SlotUpdateInlineArtifactFieldEvent | SlotUpdateInlineAttributesFieldEvent | SlotUpdateWithdrawnFieldEvent | SlotUpdateAgeMsFieldEvent> {
    return streamMessage(buf, SlotUpdate.codec(), opts)
  }
}

export interface SlotUpdates {
  channel: number
  updates: SlotUpdate[]
  haves: Have[]
  linkSalt: Uint8Array<ArrayBuffer>
  receipts: Uint8Array<ArrayBuffer>
}

export namespace SlotUpdates {
  let _codec: Codec<SlotUpdates>

  export const codec = (): Codec<SlotUpdates> => {
    if (_codec == null) {
      _codec = message<SlotUpdates>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.channel != null && obj.channel !== 0)) {
          w.uint32(8)
          w.uint32(obj.channel)
        }

        if (obj.updates != null && obj.updates.length > 0) {
          for (const value of obj.updates) {
            w.uint32(18)
            SlotUpdate.codec().encode(value, w)
          }
        }

        if (obj.haves != null && obj.haves.length > 0) {
          for (const value of obj.haves) {
            w.uint32(26)
            Have.codec().encode(value, w)
          }
        }

        if ((obj.linkSalt != null && obj.linkSalt.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.linkSalt)
        }

        if ((obj.receipts != null && obj.receipts.byteLength > 0)) {
          w.uint32(42)
          w.bytes(obj.receipts)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          channel: 0,
          updates: [],
          haves: [],
          linkSalt: uint8ArrayAlloc(0),
          receipts: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.channel = reader.uint32()
              break
            }
            case 2: {
              if (opts.limits?.updates != null && obj.updates.length === opts.limits.updates) {
                throw new MaxLengthError('Decode error - repeated field "updates" had too many elements')
              }

              obj.updates.push(SlotUpdate.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.updates$
              }))
              break
            }
            case 3: {
              if (opts.limits?.haves != null && obj.haves.length === opts.limits.haves) {
                throw new MaxLengthError('Decode error - repeated field "haves" had too many elements')
              }

              obj.haves.push(Have.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.haves$
              }))
              break
            }
            case 4: {
              obj.linkSalt = reader.bytes()
              break
            }
            case 5: {
              obj.receipts = reader.bytes()
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
        const obj = {
          updates: 0,
          haves: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.channel`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              if (opts.limits?.updates != null && obj.updates === opts.limits.updates) {
                throw new MaxLengthError('Streaming decode error - repeated field "updates" had too many elements')
              }

              for (const evt of SlotUpdate.codec().stream(reader, reader.uint32(), `${prefix}.updates[]`, {
                limits: opts.limits?.updates$
              })) {
                yield {
                  ...evt,
                  index: obj.updates
                }
              }

              obj.updates++

              break
            }
            case 3: {
              if (opts.limits?.haves != null && obj.haves === opts.limits.haves) {
                throw new MaxLengthError('Streaming decode error - repeated field "haves" had too many elements')
              }

              for (const evt of Have.codec().stream(reader, reader.uint32(), `${prefix}.haves[]`, {
                limits: opts.limits?.haves$
              })) {
                yield {
                  ...evt,
                  index: obj.haves
                }
              }

              obj.haves++

              break
            }
            case 4: {
              yield {
                field: `${prefix}.linkSalt`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.receipts`,
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

  export interface SlotUpdatesChannelFieldEvent {
    field: '$.channel'
    value: number
  }

  export interface SlotUpdatesUpdatesSlotFieldEvent {
    field: '$.updates[].slot'
    value: number
    index: number
  }

  export interface SlotUpdatesUpdatesCommitFieldEvent {
    field: '$.updates[].commit'
    value: number
    index: number
  }

  export interface SlotUpdatesUpdatesAdvertIdFieldEvent {
    field: '$.updates[].advert.id'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface SlotUpdatesUpdatesAdvertSizeFieldEvent {
    field: '$.updates[].advert.size'
    value: number
    index: number
  }

  export interface SlotUpdatesUpdatesAdvertAttributesFieldEvent {
    field: '$.updates[].advert.attributes'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface SlotUpdatesUpdatesAdvertPushedFieldEvent {
    field: '$.updates[].advert.pushed'
    value: boolean
    index: number
  }

  export interface SlotUpdatesUpdatesAdvertManifestSizeFieldEvent {
    field: '$.updates[].advert.manifestSize'
    value: number
    index: number
  }

  export interface SlotUpdatesUpdatesInlineArtifactFieldEvent {
    field: '$.updates[].inline.artifact'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface SlotUpdatesUpdatesInlineAttributesFieldEvent {
    field: '$.updates[].inline.attributes'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface SlotUpdatesUpdatesWithdrawnFieldEvent {
    field: '$.updates[].withdrawn'
    value: boolean
    index: number
  }

  export interface SlotUpdatesUpdatesAgeMsFieldEvent {
    field: '$.updates[].ageMs'
    value: number
    index: number
  }

  export interface SlotUpdatesHavesIdFieldEvent {
    field: '$.haves[].id'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface SlotUpdatesHavesBitmapFieldEvent {
    field: '$.haves[].bitmap'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface SlotUpdatesLinkSaltFieldEvent {
    field: '$.linkSalt'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SlotUpdatesReceiptsFieldEvent {
    field: '$.receipts'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<SlotUpdates>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SlotUpdates.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SlotUpdates>): SlotUpdates {
    return decodeMessage(buf, SlotUpdates.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SlotUpdates>): Generator<SlotUpdatesChannelFieldEvent | SlotUpdatesUpdatesSlotFieldEvent | SlotUpdatesUpdatesCommitFieldEvent | SlotUpdatesUpdatesAdvertIdFieldEvent | SlotUpdatesUpdatesAdvertSizeFieldEvent | SlotUpdatesUpdatesAdvertAttributesFieldEvent | SlotUpdatesUpdatesAdvertPushedFieldEvent | SlotUpdatesUpdatesAdvertManifestSizeFieldEvent | SlotUpdatesUpdatesInlineArtifactFieldEvent | SlotUpdatesUpdatesInlineAttributesFieldEvent | SlotUpdatesUpdatesWithdrawnFieldEvent | SlotUpdatesUpdatesAgeMsFieldEvent | SlotUpdatesHavesIdFieldEvent | SlotUpdatesHavesBitmapFieldEvent | SlotUpdatesLinkSaltFieldEvent | SlotUpdatesReceiptsFieldEvent> {
    return streamMessage(buf, SlotUpdates.codec(), opts)
  }
}

export interface Have {
  id: Uint8Array<ArrayBuffer>
  bitmap: Uint8Array<ArrayBuffer>
}

export namespace Have {
  let _codec: Codec<Have>

  export const codec = (): Codec<Have> => {
    if (_codec == null) {
      _codec = message<Have>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.id)
        }

        if ((obj.bitmap != null && obj.bitmap.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.bitmap)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: uint8ArrayAlloc(0),
          bitmap: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.id = reader.bytes()
              break
            }
            case 2: {
              obj.bitmap = reader.bytes()
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
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.bitmap`,
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

  export interface HaveIdFieldEvent {
    field: '$.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface HaveBitmapFieldEvent {
    field: '$.bitmap'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Have>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Have.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Have>): Have {
    return decodeMessage(buf, Have.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Have>): Generator<HaveIdFieldEvent | HaveBitmapFieldEvent> {
    return streamMessage(buf, Have.codec(), opts)
  }
}

export interface FetchRequest {
  channel: number
  id: Uint8Array<ArrayBuffer>
  part?: number
}

export namespace FetchRequest {
  let _codec: Codec<FetchRequest>

  export const codec = (): Codec<FetchRequest> => {
    if (_codec == null) {
      _codec = message<FetchRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.channel != null && obj.channel !== 0)) {
          w.uint32(8)
          w.uint32(obj.channel)
        }

        if ((obj.id != null && obj.id.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.id)
        }

        if (obj.part != null) {
          w.uint32(24)
          w.uint32(obj.part)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          channel: 0,
          id: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.channel = reader.uint32()
              break
            }
            case 2: {
              obj.id = reader.bytes()
              break
            }
            case 3: {
              obj.part = reader.uint32()
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
                field: `${prefix}.channel`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.id`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.part`,
                value: reader.uint32()
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

  export interface FetchRequestChannelFieldEvent {
    field: '$.channel'
    value: number
  }

  export interface FetchRequestIdFieldEvent {
    field: '$.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FetchRequestPartFieldEvent {
    field: '$.part'
    value: number
  }

  export function encode (obj: Partial<FetchRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, FetchRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<FetchRequest>): FetchRequest {
    return decodeMessage(buf, FetchRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<FetchRequest>): Generator<FetchRequestChannelFieldEvent | FetchRequestIdFieldEvent | FetchRequestPartFieldEvent> {
    return streamMessage(buf, FetchRequest.codec(), opts)
  }
}

export interface FetchResponse {
  artifact: Uint8Array<ArrayBuffer>
  missing: boolean
}

export namespace FetchResponse {
  let _codec: Codec<FetchResponse>

  export const codec = (): Codec<FetchResponse> => {
    if (_codec == null) {
      _codec = message<FetchResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.artifact != null && obj.artifact.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.artifact)
        }

        if ((obj.missing != null && obj.missing !== false)) {
          w.uint32(16)
          w.bool(obj.missing)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          artifact: uint8ArrayAlloc(0),
          missing: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.artifact = reader.bytes()
              break
            }
            case 2: {
              obj.missing = reader.bool()
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
                field: `${prefix}.artifact`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.missing`,
                value: reader.bool()
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

  export interface FetchResponseArtifactFieldEvent {
    field: '$.artifact'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FetchResponseMissingFieldEvent {
    field: '$.missing'
    value: boolean
  }

  export function encode (obj: Partial<FetchResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, FetchResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<FetchResponse>): FetchResponse {
    return decodeMessage(buf, FetchResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<FetchResponse>): Generator<FetchResponseArtifactFieldEvent | FetchResponseMissingFieldEvent> {
    return streamMessage(buf, FetchResponse.codec(), opts)
  }
}
