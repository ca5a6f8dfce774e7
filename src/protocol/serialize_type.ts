/**
 * The serialize-type byte of a frame (high byte of the second int32). RocketMQ uses 0 (JSON) and
 * 1 (its own binary layout). Bolide's native CBOR header takes 0x42 ("B"), far from any value
 * RocketMQ might assign next. See docs/wire.md.
 */
export const SerializeType = {
  JSON: 0,
  ROCKETMQ: 1,
  CBOR: 0x42,
} as const;

export type SerializeTypeValue = (typeof SerializeType)[keyof typeof SerializeType];
