/**
 * The node: a transport and the broadcast layer on it, assembled by {@link createNode}.
 * @module
 */
export type { BroadcastOptions, Channel } from '../broadcast/index.ts';
export {
  CHANNEL_DIGEST_BYTES,
  type ChannelConfigAgreement,
  channelConfigCanonical,
  channelConfigDigest,
} from './channel-digest.ts';
export {
  createNode,
  DEFAULT_NODE_CHANNELS,
  mergeNodeChannels,
  type Node,
  type NodeOptions,
} from './create-node.ts';
