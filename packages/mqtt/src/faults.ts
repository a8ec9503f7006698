/**
 * Fault injection points for crash tests (TigerBeetle-style: the test decides what happens at an
 * exact point, e.g. SIGKILL of its own process). Production code passes none; nothing reads the
 * environment for them. test/support/qos2-crash-server.ts is the user.
 */
export interface MqttFaults {
  /** A persistent session's QoS 2 PUBLISHes are recorded as in doubt; their append starts next. */
  readonly beforeQos2Append?: () => void;
  /** Their append is durable; the write that records their ids as stored starts next. */
  readonly afterQos2Append?: () => void;
}

export const NO_FAULTS: MqttFaults = {};
