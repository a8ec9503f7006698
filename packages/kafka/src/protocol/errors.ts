/**
 * Errors of the Kafka wire codecs. A KafkaDecodeError means the peer sent bytes that are not a valid
 * message (truncated, garbage, impossible lengths): the connection answers with an error or closes.
 * A KafkaEncodeError means our own side asked to write something the wire format cannot carry (a string
 * longer than int16, a value absent from a version): a bug in the caller, never the peer's mistake.
 */
export type KafkaDecodeErrorCode =
  | 'truncated' // fewer bytes left than the field needs
  | 'negativeLength' // a length or count below -1, or -1 where null is not allowed
  | 'invalidLength' // a length or count larger than the bytes that remain
  | 'invalidVarint' // a varint longer than its type allows
  | 'nullNotAllowed' // null (-1 / 0) for a field that is not nullable in this version
  | 'taggedFieldSize' // a known tagged field did not consume exactly its declared size
  | 'frameTooLarge'; // a frame size prefix that is negative or above frameBytesMax

export class KafkaDecodeError extends Error {
  readonly code: KafkaDecodeErrorCode;

  constructor(code: KafkaDecodeErrorCode, message: string) {
    super(message);
    this.name = 'KafkaDecodeError';
    this.code = code;
  }
}

export type KafkaEncodeErrorCode = 'valueTooLarge' | 'invalidValue' | 'unsupportedField';

export class KafkaEncodeError extends Error {
  readonly code: KafkaEncodeErrorCode;

  constructor(code: KafkaEncodeErrorCode, message: string) {
    super(message);
    this.name = 'KafkaEncodeError';
    this.code = code;
  }
}
