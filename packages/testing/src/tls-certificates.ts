/**
 * A throwaway PKI for TLS tests, made with the openssl CLI (Node can verify certificates but not
 * issue them): a CA, a server certificate for `localhost` / 127.0.0.1 and a client certificate,
 * both signed by the CA. EC P-256 keys, valid for a day.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runProgram } from './run-program.js';

export interface TestCertificates {
  readonly dir: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  /** PEM contents, for clients that take bytes (kafkajs, mqtt.js). */
  readonly ca: Buffer;
  readonly clientCert: Buffer;
  readonly clientKey: Buffer;
}

async function openssl(openSsl: string, args: string[]): Promise<void> {
  const run = await runProgram(openSsl, args, { timeoutMs: 20_000 });
  if (run.code !== 0) throw new Error(`openssl ${args[0]} failed (${run.code}): ${run.stderr.slice(-500)}`);
}

/** Writes the PKI into `dir` (which must exist) with the openssl program at `openSsl`. */
export async function makeTestCertificates(openSsl: string, dir: string): Promise<TestCertificates> {
  const file = (name: string) => join(dir, name);
  const key = (name: string) => openssl(openSsl, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file(name)]);
  await key('ca.key');
  await openssl(openSsl, ['req', '-x509', '-new', '-key', file('ca.key'), '-subj', '/CN=Strata test CA', '-days', '1', '-out', file('ca.pem'), '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
  const issue = async (name: string, subject: string, extensions: string): Promise<void> => {
    await key(`${name}.key`);
    await openssl(openSsl, ['req', '-new', '-key', file(`${name}.key`), '-subj', subject, '-out', file(`${name}.csr`)]);
    await writeFile(file(`${name}.ext`), extensions);
    await openssl(openSsl, ['x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', file(`${name}.ext`), '-out', file(`${name}.pem`)]);
  };
  await issue('server', '/CN=localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await issue('client', '/CN=test-client', 'extendedKeyUsage=clientAuth\n');
  return {
    dir,
    caFile: file('ca.pem'),
    certFile: file('server.pem'),
    keyFile: file('server.key'),
    clientCertFile: file('client.pem'),
    clientKeyFile: file('client.key'),
    ca: await readFile(file('ca.pem')),
    clientCert: await readFile(file('client.pem')),
    clientKey: await readFile(file('client.key')),
  };
}
