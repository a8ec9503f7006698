/**
 * The handler registry: THE ONLY place that imports protocol handler packages (design brief §2).
 * Each entry is a factory; creating a handler must be cheap and side-effect free, because the server
 * creates them before reading the config (their listeners define the `--<listener>-port` flags).
 */
import type { ProtocolHandlerFactory } from '@strata/core';
import { createKafkaHandler } from '@strata/kafka';
import { createMqttHandler } from '@strata/mqtt';

/** Handlers that ship with Strata, in the order their listeners are printed. */
export const builtinHandlerFactories: readonly ProtocolHandlerFactory[] = [createKafkaHandler, createMqttHandler];
