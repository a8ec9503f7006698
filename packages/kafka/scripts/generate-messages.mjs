#!/usr/bin/env node
// Generates the Kafka message codecs in src/protocol/messages/** from Apache Kafka's JSON message specs
// (clients/src/main/resources/common/message/*.json, pinned to release 3.8.0). Plain Node, no deps.
//
//   node scripts/generate-messages.mjs [specDir] [outDir]
//     specDir: default ../shared/kafka-protocol/3.8.0 next to the repository
//     outDir:  default this package; another directory gets the same src/ and test/ layout (used by the
//              test that checks the committed output is what the generator writes)
//
// Output per API: messages/<api-kebab>/types.ts (interfaces spanning every generated version),
// v<N>.ts (straight-line decode/encode of request and response bodies for version N), index.ts (a typed
// version map); plus messages/index.ts (API_KEY, messageCodecs) and messages/codec-types.ts. It also
// writes test/protocol/generated/message-schemas.ts, a compact field model the round-trip and fuzz
// tests use so that they do not need the JSON specs at test time.
//
// The schema language is described in the specs' README.md: validVersions, flexibleVersions,
// nullableVersions, taggedVersions + tag, default, ignorable, commonStructs, field-level flexibleVersions.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const KAFKA_RELEASE = '3.8.0';
const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repoDir = resolve(packageDir, '../..');
const specDir = resolve(process.argv[2] ?? join(repoDir, '../shared/kafka-protocol', KAFKA_RELEASE));
const outDir = resolve(process.argv[3] ?? packageDir);
const messagesDir = join(outDir, 'src/protocol/messages');
const schemasFile = join(outDir, 'test/protocol/generated/message-schemas.ts');

/** The APIs and version ranges we generate (the broker advertises within these). */
const APIS = [
  ['Produce', 0, 9],
  ['Fetch', 0, 12],
  ['ListOffsets', 0, 7],
  ['Metadata', 0, 12],
  ['OffsetCommit', 0, 8],
  ['OffsetFetch', 0, 8],
  ['FindCoordinator', 0, 4],
  ['JoinGroup', 0, 9],
  ['Heartbeat', 0, 4],
  ['LeaveGroup', 0, 5],
  ['SyncGroup', 0, 5],
  ['DescribeGroups', 0, 5],
  ['ListGroups', 0, 4],
  ['SaslHandshake', 0, 1],
  ['ApiVersions', 0, 3],
  ['CreateTopics', 0, 7],
  ['DeleteTopics', 0, 6],
  ['DeleteRecords', 0, 2],
  ['InitProducerId', 0, 4],
  ['OffsetForLeaderEpoch', 0, 4],
  ['DescribeConfigs', 0, 4],
  ['AlterConfigs', 0, 2],
  ['SaslAuthenticate', 0, 2],
  ['CreatePartitions', 0, 3],
  ['DeleteGroups', 0, 2],
  ['IncrementalAlterConfigs', 0, 1],
  ['OffsetDelete', 0, 0],
  ['DescribeCluster', 0, 1],
  ['DescribeProducers', 0, 0],
  ['AddPartitionsToTxn', 0, 3],
  ['AddOffsetsToTxn', 0, 3],
  ['EndTxn', 0, 3],
  ['TxnOffsetCommit', 0, 3],
  ['DescribeAcls', 0, 3],
  ['CreateAcls', 0, 3],
  ['DeleteAcls', 0, 3],
  ['DescribeTransactions', 0, 0],
  ['ListTransactions', 0, 1],
];

// ---------------------------------------------------------------------------------------------------
// Spec parsing

function fail(message) {
  throw new Error(`generate-messages: ${message}`);
}

/** JSON with `//` comments: drop whole-line comments and trailing comments after a JSON token. */
function parseSpecFile(file) {
  const text = readFileSync(file, 'utf8')
    .split('\n')
    .map((line) => line.replace(/^\s*\/\/.*$/, '').replace(/([\]}",\d]|true|false|null)\s*\/\/.*$/, '$1'))
    .join('\n');
  try {
    return JSON.parse(text);
  } catch (error) {
    fail(`${file}: ${error.message}`);
  }
}

/** "3+", "0-2", "5", "none" → { min, max } (max Infinity when open-ended), or null for none. */
function parseVersions(spec, what) {
  if (spec === undefined || spec === 'none') return null;
  let match = /^(\d+)\+$/.exec(spec);
  if (match) return { min: Number(match[1]), max: Infinity };
  match = /^(\d+)-(\d+)$/.exec(spec);
  if (match) return { min: Number(match[1]), max: Number(match[2]) };
  match = /^(\d+)$/.exec(spec);
  if (match) return { min: Number(match[1]), max: Number(match[1]) };
  fail(`bad version spec ${JSON.stringify(spec)} for ${what}`);
}

function intersect(a, b) {
  if (!a || !b) return null;
  const min = Math.max(a.min, b.min);
  const max = Math.min(a.max, b.max);
  return min <= max ? { min, max } : null;
}

function contains(range, version) {
  return range !== null && version >= range.min && version <= range.max;
}

const PRIMITIVES = new Set(['bool', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float64', 'string', 'bytes', 'records', 'uuid']);

/**
 * Normalised model: message { name, api, kind, apiKey, generated: {min,max}, flexible, root: struct }.
 * struct { typeName, tsName, fields, present: range }; field { name, jsName, snake, kind: 'primitive' |
 * 'array' | 'struct', type (primitive name), element ('primitive' type name or struct), struct,
 * versions (effective: ∩ parent and generated), nullable, tagged, tag, defaultValue, ignorable, about,
 * flexibleOverride }.
 */
function buildMessage(spec, generated, apiName) {
  const kind = spec.type;
  const messageName = spec.name;
  const flexible = parseVersions(spec.flexibleVersions, `${messageName}.flexibleVersions`);
  const common = new Map((spec.commonStructs ?? []).map((s) => [s.name, s]));
  const structs = new Map();

  function buildStruct(typeName, fieldSpecs, present, path) {
    // `<Message><StructType>`, without doubling a prefix the spec already has (MetadataResponseTopic).
    const tsName = path.length === 0 || typeName.startsWith(messageName) ? typeName : messageName + typeName;
    const names = new Set();
    const fields = [];
    for (const f of fieldSpecs) {
      const where = `${messageName}.${[...path, f.name].join('.')}`;
      if (names.has(f.name)) fail(`duplicate field ${where}`);
      names.add(f.name);
      const declared = parseVersions(f.versions, where);
      if (!declared) fail(`field without versions ${where}`);
      const versions = intersect(declared, present);
      const nullable = intersect(parseVersions(f.nullableVersions, where), versions);
      const tagged = f.tag === undefined ? null : intersect(parseVersions(f.taggedVersions, where), versions);
      if (f.tag !== undefined && !f.taggedVersions) fail(`tag without taggedVersions ${where}`);
      const field = {
        name: f.name,
        jsName: f.name[0].toLowerCase() + f.name.slice(1),
        snake: f.name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2').toLowerCase(),
        versions,
        nullable,
        tagged,
        tag: f.tag,
        rawDefault: f.default === undefined ? undefined : String(f.default),
        ignorable: f.ignorable === true,
        about: f.about ?? '',
        flexibleOverride: f.flexibleVersions === undefined ? undefined : parseVersions(f.flexibleVersions, where),
      };
      let type = f.type;
      const isArray = type.startsWith('[]');
      if (isArray) type = type.slice(2);
      if (PRIMITIVES.has(type)) {
        if (f.fields) fail(`primitive with fields ${where}`);
        field.kind = isArray ? 'array' : 'primitive';
        field.type = type;
        field.element = isArray ? { kind: 'primitive', type } : null;
      } else {
        let nestedSpecs = f.fields;
        if (!nestedSpecs) {
          const shared = common.get(type);
          if (!shared) fail(`unknown type ${type} at ${where}`);
          nestedSpecs = shared.fields;
        }
        const struct = versions === null ? null : buildStruct(type, nestedSpecs, versions, [...path, f.name]);
        field.kind = isArray ? 'array' : 'struct';
        field.type = type;
        field.element = isArray ? { kind: 'struct', struct } : null;
        field.struct = struct;
      }
      if (field.kind === 'primitive' && field.type === 'string' && field.rawDefault === 'null' && versions && !nullable) {
        fail(`default null on a field that is not nullable ${where}`);
      }
      fields.push(field);
    }
    const struct = { typeName, tsName, fields, present };
    if (path.length > 0) {
      const existing = structs.get(tsName);
      if (existing) {
        // The same struct type used twice in one message must be the same shape (commonStructs).
        const shape = (s) => JSON.stringify(s.fields.map((x) => [x.name, x.kind, x.type]));
        if (shape(existing) !== shape(struct)) fail(`struct ${tsName} defined twice with different fields`);
        existing.present = { min: Math.min(existing.present.min, present.min), max: Math.max(existing.present.max, present.max) };
        return existing;
      }
      structs.set(tsName, struct);
    }
    return struct;
  }

  const root = buildStruct(messageName, spec.fields, generated, []);
  return { name: messageName, api: apiName, kind, apiKey: spec.apiKey, generated, flexible, root, structs };
}

// ---------------------------------------------------------------------------------------------------
// Helpers over the model

const isPresent = (field, v) => contains(field.versions, v);

/** Names a decoded field's local variable must not take (generated locals, reserved words). */
const TAKEN = new Set(['r', 'w', 'm', 't', 'i', 'tag', 'size', 'end', 'taggedCount', 'taggedWriter', 'element', 'value', 'version', 'flexible',
  'break', 'case', 'catch', 'class', 'const', 'continue', 'debugger', 'default', 'delete', 'do', 'else', 'enum', 'export', 'extends',
  'false', 'finally', 'for', 'function', 'if', 'import', 'in', 'instanceof', 'new', 'null', 'return', 'super', 'switch', 'this',
  'throw', 'true', 'try', 'typeof', 'var', 'void', 'while', 'with', 'yield', 'let', 'static', 'implements', 'interface', 'package',
  'private', 'protected', 'public', 'await', 'arguments', 'eval', 'Buffer', 'Reader', 'Writer']);
const local = (field) => (TAKEN.has(field.jsName) || /^(count|array|struct|tagged|has)\d/.test(field.jsName) ? `${field.jsName}Value` : field.jsName);
const isTagged = (field, v) => contains(field.tagged, v);
const isNullable = (field, v) => contains(field.nullable, v);
const everNullable = (field) => field.nullable !== null || (field.kind === 'primitive' && field.type === 'string' && field.rawDefault === 'null');

function isCompact(message, field, v) {
  if (!contains(message.flexible, v)) return false;
  return field.flexibleOverride === undefined ? true : contains(field.flexibleOverride, v);
}

function primitiveTsType(type) {
  switch (type) {
    case 'bool':
      return 'boolean';
    case 'string':
      return 'string';
    case 'bytes':
    case 'uuid':
      return 'Buffer';
    case 'records':
      return 'Buffer | null';
    default:
      return 'number';
  }
}

/**
 * `side` 'response' in the response interfaces: a records field there may also be a list of chunks
 * sent back to back (Writer.records), so a Fetch reply can join stored batches without copying them.
 */
function tsType(field, side = 'request') {
  let base;
  if (field.kind === 'primitive' && field.type === 'records' && side === 'response') base = 'RecordsValue | null';
  else if (field.kind === 'primitive') base = primitiveTsType(field.type);
  else if (field.kind === 'struct') base = field.struct.tsName;
  else base = field.element.kind === 'primitive' ? `${primitiveTsType(field.type)}[]` : `${field.element.struct.tsName}[]`;
  if (field.kind === 'array' && field.element.kind === 'primitive' && field.type === 'records') base = '(Buffer | null)[]';
  const nullable = everNullable(field) && !(field.kind === 'primitive' && field.type === 'records');
  return nullable ? `${base} | null` : base;
}

/** Default value as a TypeScript expression (README "Custom Default Values"). */
function defaultExpr(field) {
  const raw = field.rawDefault;
  if (field.kind === 'array') return '[]';
  if (field.kind === 'struct') return `default${field.struct.tsName}()`;
  switch (field.type) {
    case 'bool':
      if (raw === undefined) return 'false';
      if (raw !== 'true' && raw !== 'false') fail(`bad bool default ${raw} for ${field.name}`);
      return raw;
    case 'int8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'uint32':
    case 'int64':
    case 'float64': {
      if (raw === undefined) return '0';
      const value = Number(raw);
      if (!Number.isFinite(value)) fail(`bad numeric default ${raw} for ${field.name}`);
      return String(value);
    }
    case 'string':
      if (raw === undefined) return "''";
      if (raw === 'null') return 'null';
      return JSON.stringify(raw);
    case 'bytes':
      return 'Buffer.alloc(0)';
    case 'uuid':
      return 'Buffer.alloc(16)';
    case 'records':
      return 'null';
  }
  fail(`no default for ${field.name}`);
}

/** Fewest bytes one value of the field takes in version v (bounds array counts before allocating). */
function minBytes(message, field, v) {
  const compact = isCompact(message, field, v);
  if (field.kind === 'array') return compact ? 1 : 4;
  if (field.kind === 'struct') return (isNullable(field, v) ? 1 : 0) + structMinBytes(message, field.struct, v);
  return primitiveMinBytes(field.type, compact);
}

function primitiveMinBytes(type, compact) {
  switch (type) {
    case 'bool':
    case 'int8':
      return 1;
    case 'int16':
    case 'uint16':
      return 2;
    case 'int32':
    case 'uint32':
      return 4;
    case 'int64':
    case 'float64':
      return 8;
    case 'uuid':
      return 16;
    case 'string':
      return compact ? 1 : 2;
    case 'bytes':
    case 'records':
      return compact ? 1 : 4;
  }
  fail(`unknown primitive ${type}`);
}

function structMinBytes(message, struct, v) {
  let total = contains(message.flexible, v) ? 1 : 0; // the TAGGED_FIELDS count
  for (const field of struct.fields) {
    if (isPresent(field, v) && !isTagged(field, v)) total += minBytes(message, field, v);
  }
  return total;
}

function elementMinBytes(message, field, v) {
  if (field.element.kind === 'struct') return structMinBytes(message, field.element.struct, v);
  return primitiveMinBytes(field.type, isCompact(message, field, v));
}

// ---------------------------------------------------------------------------------------------------
// Grammar comment (kafkajs / docs/protocol.html style)

function primitiveGrammar(type, compact, nullable) {
  const names = {
    bool: 'BOOLEAN',
    int8: 'INT8',
    int16: 'INT16',
    uint16: 'UINT16',
    int32: 'INT32',
    uint32: 'UINT32',
    int64: 'INT64',
    float64: 'FLOAT64',
    uuid: 'UUID',
  };
  if (names[type]) return names[type];
  const base = { string: 'STRING', bytes: 'BYTES', records: 'RECORDS' }[type];
  if (type === 'records') return compact ? 'COMPACT_RECORDS' : 'RECORDS';
  return `${compact ? 'COMPACT_' : ''}${nullable ? 'NULLABLE_' : ''}${base}`;
}

function grammarLines(message, struct, v, title) {
  const lines = [];
  const flexible = contains(message.flexible, v);
  function describe(struct, label, indent) {
    const regular = struct.fields.filter((f) => isPresent(f, v) && !isTagged(f, v));
    const tagged = struct.fields.filter((f) => isTagged(f, v));
    const parts = regular.map((f) => (f.kind === 'array' ? `[${f.snake}]` : f.snake));
    if (flexible) parts.push('_tagged_fields');
    lines.push(`${'  '.repeat(indent)}${label} => ${parts.join(' ')}`.trimEnd());
    for (const f of [...regular, ...tagged]) {
      const compact = isCompact(message, f, v);
      const tag = isTagged(f, v) ? ` (tag ${f.tag})` : '';
      if (f.kind === 'primitive') {
        lines.push(`${'  '.repeat(indent + 1)}${f.snake}${tag} => ${primitiveGrammar(f.type, compact, isNullable(f, v))}`);
      } else if (f.kind === 'array' && f.element.kind === 'primitive') {
        const array = `${compact ? 'COMPACT_' : ''}${isNullable(f, v) ? 'NULLABLE_' : ''}ARRAY`;
        lines.push(`${'  '.repeat(indent + 1)}${f.snake}${tag} => ${array}(${primitiveGrammar(f.type, compact, false)})`);
      } else {
        describe(f.struct, `${f.snake}${tag}`, indent + 1);
      }
    }
  }
  describe(struct, `${title} (Version: ${v})`, 0);
  return lines.map((line) => `// ${line}`);
}

// ---------------------------------------------------------------------------------------------------
// Code generation: decode

class Code {
  constructor() {
    this.lines = [];
    this.depth = 0;
    this.counter = 0;
  }
  line(text = '') {
    this.lines.push(text === '' ? '' : '  '.repeat(this.depth) + text);
  }
  open(text) {
    this.line(text);
    this.depth++;
  }
  close(text = '}') {
    this.depth--;
    this.line(text);
  }
  fresh(prefix) {
    return `${prefix}${this.counter++}`;
  }
  toString() {
    return this.lines.join('\n');
  }
}

function readPrimitiveExpr(type, compact, nullable) {
  switch (type) {
    case 'bool':
    case 'int8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'uint32':
    case 'int64':
    case 'float64':
    case 'uuid':
      return `r.${type}()`;
    case 'string':
      return compact ? (nullable ? 'r.compactNullableString()' : 'r.compactString()') : nullable ? 'r.nullableString()' : 'r.string()';
    case 'bytes':
      return compact ? (nullable ? 'r.compactNullableBytes()' : 'r.compactBytes()') : nullable ? 'r.nullableBytes()' : 'r.bytes()';
    case 'records':
      return compact ? 'r.compactRecords()' : 'r.records()';
  }
  fail(`unknown primitive ${type}`);
}

/** Emits statements that assign the decoded value of `field` (version v) to `target`. */
function emitRead(code, message, field, v, target) {
  const compact = isCompact(message, field, v);
  const nullable = isNullable(field, v);
  if (field.kind === 'primitive') {
    code.line(`${target} = ${readPrimitiveExpr(field.type, compact, nullable)};`);
    return;
  }
  if (field.kind === 'struct') {
    const read = `read${field.struct.tsName}(r)`;
    code.line(nullable ? `${target} = r.structPresent() ? ${read} : null;` : `${target} = ${read};`);
    return;
  }
  const count = code.fresh('count');
  const array = code.fresh('array');
  const method = `${compact ? 'compact' : ''}${nullable ? (compact ? 'Nullable' : 'nullable') : ''}${compact || nullable ? 'ArrayLength' : 'arrayLength'}`;
  const elementType = field.element.kind === 'struct' ? field.element.struct.tsName : primitiveTsType(field.type);
  const element = field.element.kind === 'struct' ? `read${field.element.struct.tsName}(r)` : readPrimitiveExpr(field.type, compact, false);
  code.line(`const ${count} = r.${method}(${elementMinBytes(message, field, v)});`);
  if (nullable) {
    code.open(`if (${count} < 0) {`);
    code.line(`${target} = null;`);
    code.close('} else {');
    code.depth++;
  }
  code.line(`const ${array}: ${elementType}[] = [];`);
  code.line(`for (let i = 0; i < ${count}; i++) ${array}.push(${element});`);
  code.line(`${target} = ${array};`);
  if (nullable) code.close();
}

function emitReadStruct(code, message, struct, v, functionName, returnType, exported) {
  const flexible = contains(message.flexible, v);
  code.open(`${exported ? 'export ' : ''}function ${functionName}(r: Reader): ${returnType} {`);
  const regular = struct.fields.filter((f) => isPresent(f, v) && !isTagged(f, v));
  const tagged = struct.fields.filter((f) => isTagged(f, v));
  for (const f of regular) {
    if (f.kind === 'primitive' || f.kind === 'struct') {
      const compact = isCompact(message, f, v);
      if (f.kind === 'primitive') code.line(`const ${local(f)} = ${readPrimitiveExpr(f.type, compact, isNullable(f, v))};`);
      else emitReadDeclared(code, message, f, v);
    } else if (!isNullable(f, v)) {
      emitReadArrayDeclared(code, message, f, v);
    } else {
      code.line(`let ${local(f)}: ${tsType(f)};`);
      emitRead(code, message, f, v, local(f));
    }
  }
  for (const f of tagged) code.line(`let ${local(f)}: ${tsType(f)} = ${defaultExpr(f)};`);
  if (flexible) {
    if (tagged.length === 0) {
      code.line('r.skipTaggedFields();');
    } else {
      code.line('const taggedCount = r.uvarint();');
      code.open('for (let t = 0; t < taggedCount; t++) {');
      code.line('const tag = r.uvarint();');
      code.line('const size = r.uvarint();');
      code.open('switch (tag) {');
      for (const f of tagged) {
        code.open(`case ${f.tag}: {`);
        code.line('const end = r.beginTaggedField(size);');
        emitRead(code, message, f, v, local(f));
        code.line('r.endTaggedField(end);');
        code.line('break;');
        code.close();
      }
      code.line('default:');
      code.line('  r.skip(size);');
      code.close();
      code.close();
    }
  }
  const props = struct.fields
    .filter((f) => f.versions !== null)
    .map((f) => (!isPresent(f, v) ? `${f.jsName}: ${defaultExpr(f)}` : local(f) === f.jsName ? f.jsName : `${f.jsName}: ${local(f)}`));
  code.line(`return { ${props.join(', ')} };`);
  code.close();
}

function emitReadArrayDeclared(code, message, field, v) {
  const compact = isCompact(message, field, v);
  const count = code.fresh('count');
  const elementType = field.element.kind === 'struct' ? field.element.struct.tsName : primitiveTsType(field.type);
  const element = field.element.kind === 'struct' ? `read${field.element.struct.tsName}(r)` : readPrimitiveExpr(field.type, compact, false);
  code.line(`const ${count} = r.${compact ? 'compactArrayLength' : 'arrayLength'}(${elementMinBytes(message, field, v)});`);
  code.line(`const ${local(field)}: ${elementType}[] = [];`);
  code.line(`for (let i = 0; i < ${count}; i++) ${local(field)}.push(${element});`);
}

function emitReadDeclared(code, message, field, v) {
  const nullable = isNullable(field, v);
  const read = `read${field.struct.tsName}(r)`;
  code.line(nullable ? `const ${local(field)} = r.structPresent() ? ${read} : null;` : `const ${local(field)} = ${read};`);
}

// ---------------------------------------------------------------------------------------------------
// Code generation: encode

function writePrimitiveCall(type, compact, nullable, value, writer = 'w') {
  switch (type) {
    case 'bool':
    case 'int8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'uint32':
    case 'int64':
    case 'float64':
    case 'uuid':
      return `${writer}.${type}(${value});`;
    case 'string':
      return compact
        ? nullable
          ? `${writer}.compactNullableString(${value});`
          : `${writer}.compactString(${value});`
        : nullable
          ? `${writer}.nullableString(${value});`
          : `${writer}.string(${value});`;
    case 'bytes':
      return compact
        ? nullable
          ? `${writer}.compactNullableBytes(${value});`
          : `${writer}.compactBytes(${value});`
        : nullable
          ? `${writer}.nullableBytes(${value});`
          : `${writer}.bytes(${value});`;
    case 'records':
      return compact ? `${writer}.compactRecords(${value});` : `${writer}.records(${value});`;
  }
  fail(`unknown primitive ${type}`);
}

/**
 * Expression for the value to write: the given value, or the default when it is omitted (responses)
 * or null where this version cannot carry null.
 */
function valueExpr(field, v, source, side) {
  if (field.kind === 'struct') {
    const fallback = side === 'response' ? '{}' : defaultExpr(field);
    return isNullable(field, v) ? `${source} === undefined ? ${fallback} : ${source}` : `${source} ?? ${fallback}`;
  }
  let fallback = defaultExpr(field);
  if (field.kind === 'primitive' && field.type === 'string' && fallback === 'null' && !isNullable(field, v)) fallback = "''";
  if (field.kind === 'primitive' && field.type === 'uuid') return source;
  if (field.kind === 'primitive' && field.type === 'records') return `${source} ?? null`;
  if (isNullable(field, v)) return `${source} === undefined ? ${fallback} : ${source}`;
  return `${source} ?? ${fallback}`;
}

function emitWrite(code, message, field, v, source, side, writer = 'w') {
  const compact = isCompact(message, field, v);
  const nullable = isNullable(field, v);
  if (field.kind === 'primitive') {
    code.line(writePrimitiveCall(field.type, compact, nullable, valueExpr(field, v, source, side), writer));
    return;
  }
  if (field.kind === 'struct') {
    const value = code.fresh('struct');
    code.line(`const ${value} = ${valueExpr(field, v, source, side)};`);
    if (nullable) {
      code.open(`if (${value} === null) ${writer}.structPresent(false);`);
      code.close('else {');
      code.depth++;
      code.line(`${writer}.structPresent(true);`);
      code.line(`write${field.struct.tsName}(${writer}, ${value});`);
      code.close();
    } else {
      code.line(`write${field.struct.tsName}(${writer}, ${value});`);
    }
    return;
  }
  const array = code.fresh('array');
  const lengthMethod = `${compact ? 'compact' : ''}${nullable ? (compact ? 'Nullable' : 'nullable') : ''}${compact || nullable ? 'ArrayLength' : 'arrayLength'}`;
  code.line(`const ${array} = ${valueExpr(field, v, source, side)};`);
  if (nullable) {
    code.open(`if (${array} === null) ${writer}.${lengthMethod}(-1);`);
    code.close('else {');
    code.depth++;
  }
  code.line(`${writer}.${lengthMethod}(${array}.length);`);
  if (field.element.kind === 'struct') {
    code.line(`for (const element of ${array}) write${field.element.struct.tsName}(${writer}, element);`);
  } else {
    code.line(`for (const element of ${array}) ${writePrimitiveCall(field.type, compact, false, 'element', writer)}`);
  }
  if (nullable) code.close();
}

/** Condition under which a tagged field is written: it differs from its default. */
function taggedPresentExpr(field, v, value, side) {
  if (field.kind === 'struct') return side === 'response' ? `${value} !== undefined` : 'true';
  if (field.kind === 'array') return isNullable(field, v) ? `(${value} === null || ${value}.length > 0)` : `${value}.length > 0`;
  switch (field.type) {
    case 'bytes':
      return isNullable(field, v) ? `(${value} === null || ${value}.length > 0)` : `${value}.length > 0`;
    case 'records':
      return `${value} !== null`;
    case 'uuid':
      return `(${value} !== undefined && ${value}.some((byte) => byte !== 0))`;
    default:
      return `${value} !== ${defaultExpr(field)}`;
  }
}

/** Whether a value differs from the field's default (used where a version cannot carry the field). */
function nonDefaultExpr(field, source) {
  const fallback = defaultExpr(field);
  if (field.kind === 'array') return `(${source} ?? []).length > 0`;
  switch (field.type) {
    case 'bytes':
      return `(${source} ?? Buffer.alloc(0)).length > 0`;
    case 'uuid':
      return `(${source} ?? Buffer.alloc(16)).some((byte) => byte !== 0)`;
    case 'records':
      return `(${source} ?? null) !== null`;
    default:
      return `(${source} ?? ${fallback}) !== ${fallback}`;
  }
}

/**
 * README "Ignorable Fields": writing a version that lacks a field must not silently drop a value that
 * changes the request's meaning. Request encoders (clients, tests) throw for a non-ignorable field
 * set to a non-default value; response encoders omit such fields, since responses are built
 * version-independently by the broker.
 */
function emitUnsupportedFieldChecks(code, message, struct, v) {
  for (const f of struct.fields) {
    if (f.versions === null || isPresent(f, v) || f.ignorable || f.kind === 'struct') continue;
    code.line(`if (${nonDefaultExpr(f, `m.${f.jsName}`)}) unsupportedField('${f.jsName}');`);
    message.usesUnsupportedField = true;
  }
}

function emitWriteStruct(code, message, struct, v, functionName, paramType, side, exported) {
  const flexible = contains(message.flexible, v);
  code.open(`${exported ? 'export ' : ''}function ${functionName}(w: Writer, m: ${paramType}): void {`);
  const regular = struct.fields.filter((f) => isPresent(f, v) && !isTagged(f, v));
  const tagged = struct.fields.filter((f) => isTagged(f, v)).sort((a, b) => a.tag - b.tag);
  if (side === 'request') emitUnsupportedFieldChecks(code, message, struct, v);
  for (const f of regular) emitWrite(code, message, f, v, `m.${f.jsName}`, side);
  if (flexible) {
    if (tagged.length === 0) {
      code.line('w.emptyTaggedFields();');
    } else {
      code.line('let taggedCount = 0;');
      for (const f of tagged) {
        const value = `tagged${f.tag}`;
        const source = f.kind === 'struct' || (f.kind === 'primitive' && (f.type === 'uuid' || f.type === 'records')) ? `m.${f.jsName}` : valueExpr(f, v, `m.${f.jsName}`, side);
        code.line(`const ${value} = ${source};`);
        code.line(`const has${f.tag} = ${taggedPresentExpr(f, v, value, side)};`);
        code.line(`if (has${f.tag}) taggedCount++;`);
      }
      code.line('w.uvarint(taggedCount);');
      for (const f of tagged) {
        // A tagged field is written as tag, size, value: the value goes to its own writer first.
        code.open(`if (has${f.tag}) {`);
        code.line('const taggedWriter = new Writer(64);');
        emitWrite(code, message, f, v, `tagged${f.tag}`, side, 'taggedWriter');
        code.line('const value = taggedWriter.finish();');
        code.line(`w.uvarint(${f.tag});`);
        code.line('w.uvarint(value.length);');
        code.line('w.raw(value);');
        code.close();
      }
    }
  }
  code.close();
}

// ---------------------------------------------------------------------------------------------------
// Files

const GENERATED_BY = (specName) =>
  `// Generated by packages/kafka/scripts/generate-messages.mjs from Apache Kafka ${KAFKA_RELEASE} ${specName}.json. Do not edit.`;

function kebab(name) {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

function docComment(text, indent) {
  if (!text) return [];
  const clean = text.replace(/\*\//g, '* /').replace(/\s+/g, ' ').trim();
  return [`${indent}/** ${clean} */`];
}

function typesFile(api, request, response) {
  const out = [GENERATED_BY(`${api}Request/${api}Response`), ''];
  out.push(`// Interfaces span versions ${request.generated.min}-${request.generated.max}. Requests: every field is filled by the decoder`);
  out.push('// (the JSON default where a version lacks it). Responses: every field is optional; the encoder writes');
  out.push('// the default for an omitted field.');
  const responseRecords = [response.root, ...response.structs.values()].some((struct) =>
    struct.fields.some((f) => f.versions !== null && f.kind === 'primitive' && f.type === 'records'),
  );
  if (responseRecords) out.push('', "import type { RecordsValue } from '../../writer.js';");
  for (const message of [request, response]) {
    const optional = message.kind === 'response' ? '?' : '';
    const emit = (struct) => {
      out.push('');
      out.push(`export interface ${struct.tsName} {`);
      for (const f of struct.fields) {
        if (f.versions === null) continue;
        const range = f.versions.max === Infinity || f.versions.max >= message.generated.max ? `v${f.versions.min}+` : `v${f.versions.min}-${f.versions.max}`;
        const extra = [range];
        if (f.tagged) extra.push(`tag ${f.tag}`);
        if (f.nullable) extra.push(`nullable v${f.nullable.min}+`);
        if (f.rawDefault !== undefined) extra.push(`default ${f.rawDefault}`);
        out.push(...docComment(`${f.about} (${extra.join(', ')})`, '  '));
        out.push(`  ${f.jsName}${optional}: ${tsType(f, message.kind)};`);
      }
      out.push('}');
    };
    emit(message.root);
    for (const struct of message.structs.values()) emit(struct);
  }
  return out.join('\n') + '\n';
}

function structsPresentIn(message, v) {
  return [...message.structs.values()].filter((s) => contains(s.present, v));
}

/** Structs whose default object is needed by version v (struct fields absent in v, tagged structs). */
function defaultFunctions(code, message, v, side) {
  const needed = new Set();
  const visit = (struct) => {
    for (const f of struct.fields) {
      if (!f.struct || f.versions === null) continue;
      if (f.kind === 'struct' && (!isPresent(f, v) || isTagged(f, v) || side === 'request')) needed.add(f.struct);
      if (isPresent(f, v)) visit(f.struct);
    }
  };
  visit(message.root);
  const all = new Set();
  const addDeep = (struct) => {
    if (all.has(struct)) return;
    all.add(struct);
    for (const f of struct.fields) if (f.kind === 'struct' && f.versions !== null) addDeep(f.struct);
  };
  for (const s of needed) addDeep(s);
  for (const struct of all) {
    const props = struct.fields.filter((f) => f.versions !== null).map((f) => `${f.jsName}: ${defaultExpr(f)}`);
    code.open(`function default${struct.tsName}(): ${struct.tsName} {`);
    code.line(`return { ${props.join(', ')} };`);
    code.close();
    code.line();
  }
}

/** `label` names the versions in the unsupported-field message (v9, or v9-10 when v10 re-exports v9). */
function versionFile(api, request, response, v, label = `v${v}`) {
  const code = new Code();
  code.line(GENERATED_BY(`${api}Request/${api}Response`));
  code.line('//');
  for (const line of grammarLines(request, request.root, v, `${api} Request`)) code.line(line);
  code.line('//');
  for (const line of grammarLines(response, response.root, v, `${api} Response`)) code.line(line);
  code.line('');
  code.line("import { Reader } from '../../reader.js';");
  code.line("import { Writer } from '../../writer.js';");
  const typeNames = [request.name, response.name];
  for (const message of [request, response]) for (const s of message.structs.values()) typeNames.push(s.tsName);
  code.line(`import type { ${typeNames.join(', ')} } from './types.js';`);
  code.line('');
  code.line(`export const version = ${v};`);
  code.line(`export const flexible = ${contains(request.flexible, v)};`);
  code.line('');
  const checksAt = code.lines.length;
  for (const [message, side] of [
    [request, 'request'],
    [response, 'response'],
  ]) {
    defaultFunctions(code, message, v, side);
    const decodeName = message.kind === 'request' ? 'decodeRequest' : 'decodeResponse';
    const encodeName = message.kind === 'request' ? 'encodeRequest' : 'encodeResponse';
    emitReadStruct(code, message, message.root, v, decodeName, message.name, true);
    code.line('');
    emitWriteStruct(code, message, message.root, v, encodeName, message.name, side, true);
    code.line('');
    for (const struct of structsPresentIn(message, v)) {
      emitReadStruct(code, message, struct, v, `read${struct.tsName}`, struct.tsName, false);
      code.line('');
      emitWriteStruct(code, message, struct, v, `write${struct.tsName}`, struct.tsName, side, false);
      code.line('');
    }
  }
  if (request.usesUnsupportedField) {
    request.usesUnsupportedField = false;
    code.lines.splice(
      checksAt,
      0,
      'function unsupportedField(name: string): never {',
      `  throw new KafkaEncodeError('unsupportedField', \`${api} ${label} cannot carry \${name} (set to a non-default value)\`);`,
      '}',
      '',
    );
    code.lines.splice(checksAt - 6, 0, "import { KafkaEncodeError } from '../../errors.js';");
  }
  return code.toString().replace(/\n+$/, '\n');
}

/**
 * Splits a version file into its header comment, its `version` and `flexible` lines, and the rest (the
 * code compared between versions, with the `version` line taken out); null if the layout is unexpected.
 */
function splitVersionFile(text, v) {
  const lines = text.split('\n');
  const headerEnd = lines.findIndex((line) => !line.startsWith('//'));
  const versionLine = `export const version = ${v};`;
  const versionAt = lines.indexOf(versionLine);
  const flexibleAt = versionAt + 1;
  if (headerEnd < 0 || versionAt < 0 || !/^export const flexible = (true|false);$/.test(lines[flexibleAt])) return null;
  const rest = [...lines.slice(headerEnd, versionAt), ...lines.slice(versionAt + 1)];
  return { header: lines.slice(0, headerEnd), versionLine, flexibleLine: lines[flexibleAt], body: rest.join('\n') };
}

const LABEL_PLACEHOLDER = 'v<versions>';

/** [9, 10, 11] -> v9-11; [4, 6] -> v4/v6. */
function versionsLabel(members) {
  if (members.length === 1) return `v${members[0]}`;
  const consecutive = members.every((v, i) => i === 0 || v === members[i - 1] + 1);
  return consecutive ? `v${members[0]}-${members[members.length - 1]}` : members.map((v) => `v${v}`).join('/');
}

function reexportFile(split, earliest) {
  const out = [...split.header, ''];
  out.push(`export { decodeRequest, encodeResponse, encodeRequest, decodeResponse } from './v${earliest}.js';`);
  out.push('');
  out.push(split.versionLine);
  out.push(split.flexibleLine);
  return out.join('\n') + '\n';
}

function apiIndexFile(api, request, response, folder) {
  const out = [GENERATED_BY(`${api}Request/${api}Response`), ''];
  out.push("import type { VersionCodecs } from '../codec-types.js';");
  out.push(`import type { ${request.name}, ${response.name} } from './types.js';`);
  const { min, max } = request.generated;
  for (let v = min; v <= max; v++) out.push(`import * as v${v} from './v${v}.js';`);
  out.push('');
  out.push("export type * from './types.js';");
  out.push('');
  out.push(`export const minVersion = ${min};`);
  out.push(`export const maxVersion = ${max};`);
  out.push(`/** First flexible version (compact encodings, tagged fields, request header v2), Infinity if none. */`);
  out.push(`export const flexibleMinVersion = ${request.flexible ? request.flexible.min : 'Infinity'};`);
  out.push('');
  out.push(`export const versions: ReadonlyMap<number, VersionCodecs<${request.name}, ${response.name}>> = new Map<number, VersionCodecs<${request.name}, ${response.name}>>([`);
  for (let v = min; v <= max; v++) out.push(`  [${v}, v${v}],`);
  out.push(']);');
  return out.join('\n') + '\n';
}

const CODEC_TYPES = `${GENERATED_BY('*')}

import type { Reader } from '../reader.js';
import type { Writer } from '../writer.js';

/** The four body codecs of one version of one API. */
export interface VersionCodecs<Request = any, Response = any> {
  decodeRequest(r: Reader): Request;
  encodeResponse(w: Writer, m: Response): void;
  encodeRequest(w: Writer, m: Request): void;
  decodeResponse(r: Reader): Response;
}

export interface ApiCodecs {
  apiKey: number;
  name: string;
  minVersion: number;
  maxVersion: number;
  /** First flexible version; Infinity if the API has none. */
  flexibleMinVersion: number;
  versions: ReadonlyMap<number, VersionCodecs>;
}
`;

function mainIndexFile(apis) {
  const out = [GENERATED_BY('*Request/*Response'), ''];
  out.push("import type { ApiCodecs } from './codec-types.js';");
  for (const { api, folder } of apis) out.push(`import * as ${api[0].toLowerCase() + api.slice(1)} from './${folder}/index.js';`);
  out.push('');
  out.push("export type { ApiCodecs, VersionCodecs } from './codec-types.js';");
  for (const { folder } of apis) out.push(`export type * from './${folder}/types.js';`);
  out.push('');
  out.push('/** API keys (docs/protocol.html "Api Keys"). */');
  out.push('export const API_KEY = {');
  for (const { api, apiKey } of [...apis].sort((a, b) => a.apiKey - b.apiKey)) out.push(`  ${api}: ${apiKey},`);
  out.push('} as const;');
  out.push('');
  out.push('export type ApiName = keyof typeof API_KEY;');
  out.push('');
  out.push('/** Per-API typed codecs, e.g. `apis.Produce.versions.get(9)`. */');
  out.push('export const apis = {');
  for (const { api } of apis) out.push(`  ${api}: ${api[0].toLowerCase() + api.slice(1)},`);
  out.push('} as const;');
  out.push('');
  out.push('export const messageCodecs: ReadonlyMap<number, ApiCodecs> = new Map(');
  out.push('  (Object.keys(API_KEY) as ApiName[]).map((name) => {');
  out.push('    const api = apis[name];');
  out.push('    const codecs: ApiCodecs = {');
  out.push('      apiKey: API_KEY[name],');
  out.push('      name,');
  out.push('      minVersion: api.minVersion,');
  out.push('      maxVersion: api.maxVersion,');
  out.push('      flexibleMinVersion: api.flexibleMinVersion,');
  out.push('      versions: api.versions,');
  out.push('    };');
  out.push('    return [codecs.apiKey, codecs] as const;');
  out.push('  }),');
  out.push(');');
  return out.join('\n') + '\n';
}

/** Compact field model for tests: [jsName, kind, type, versions, nullable, tagged, default, children]. */
function schemaOf(struct) {
  return struct.fields
    .filter((f) => f.versions !== null)
    .map((f) => {
      const range = (r) => (r === null ? null : [r.min, r.max === Infinity ? 9999 : r.max]);
      return {
        name: f.jsName,
        kind: f.kind,
        type: f.type,
        versions: range(f.versions),
        nullable: range(f.nullable),
        tagged: range(f.tagged),
        tag: f.tag ?? null,
        default: f.rawDefault ?? null,
        fields: f.kind === 'struct' || (f.kind === 'array' && f.element.kind === 'struct') ? schemaOf(f.struct) : null,
      };
    });
}

function schemasFileText(entries) {
  const out = [GENERATED_BY('*Request/*Response'), ''];
  out.push('// Field model of every generated message, for the round-trip and fuzz tests (no JSON needed at test time).');
  out.push('');
  out.push('export interface FieldSchema {');
  out.push('  name: string;');
  out.push("  kind: 'primitive' | 'array' | 'struct';");
  out.push('  type: string;');
  out.push('  versions: [number, number];');
  out.push('  nullable: [number, number] | null;');
  out.push('  tagged: [number, number] | null;');
  out.push('  tag: number | null;');
  out.push('  default: string | null;');
  out.push('  fields: FieldSchema[] | null;');
  out.push('}');
  out.push('');
  out.push('export interface MessageSchema {');
  out.push('  api: string;');
  out.push('  folder: string;');
  out.push('  apiKey: number;');
  out.push('  minVersion: number;');
  out.push('  maxVersion: number;');
  out.push('  flexibleMinVersion: number;');
  out.push('  request: FieldSchema[];');
  out.push('  response: FieldSchema[];');
  out.push('}');
  out.push('');
  out.push('export const messageSchemas: MessageSchema[] = ' + JSON.stringify(entries, null, 0).replace(/9999/g, '9999') + ';');
  return out.join('\n') + '\n';
}

function main() {
  const apis = [];
  const schemaEntries = [];
  rmSync(messagesDir, { recursive: true, force: true });
  mkdirSync(messagesDir, { recursive: true });
  for (const [api, min, max] of APIS) {
    const requestSpec = parseSpecFile(join(specDir, `${api}Request.json`));
    const responseSpec = parseSpecFile(join(specDir, `${api}Response.json`));
    const valid = parseVersions(requestSpec.validVersions, `${api}Request.validVersions`);
    const validResponse = parseVersions(responseSpec.validVersions, `${api}Response.validVersions`);
    if (min < valid.min || max > valid.max || min < validResponse.min || max > validResponse.max) {
      fail(`${api} ${min}-${max} outside validVersions ${requestSpec.validVersions}/${responseSpec.validVersions}`);
    }
    if (requestSpec.flexibleVersions !== responseSpec.flexibleVersions) fail(`${api}: request and response flexibleVersions differ`);
    const generated = { min, max };
    const request = buildMessage(requestSpec, generated, api);
    const response = buildMessage(responseSpec, generated, api);
    const folder = kebab(api);
    const dir = join(messagesDir, folder);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'types.ts'), typesFile(api, request, response));
    // A version whose code is byte-for-byte that of an earlier version (the wire format did not change)
    // keeps its own file with its header and constants but re-exports the codecs of the earliest one.
    // The message of an unsupported field names its versions, so the bodies are compared with a
    // placeholder there and the earliest file of a group is then written with the group's label.
    const groups = new Map();
    const splits = new Map();
    for (let v = min; v <= max; v++) {
      const split = splitVersionFile(versionFile(api, request, response, v, LABEL_PLACEHOLDER), v);
      splits.set(v, split);
      const key = split ? split.body : `unique ${v}`;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(v);
    }
    for (const members of groups.values()) {
      const [earliest, ...later] = members;
      writeFileSync(join(dir, `v${earliest}.ts`), versionFile(api, request, response, earliest, versionsLabel(members)));
      for (const v of later) writeFileSync(join(dir, `v${v}.ts`), reexportFile(splits.get(v), earliest));
    }
    writeFileSync(join(dir, 'index.ts'), apiIndexFile(api, request, response, folder));
    apis.push({ api, folder, apiKey: requestSpec.apiKey });
    schemaEntries.push({
      api,
      folder,
      apiKey: requestSpec.apiKey,
      minVersion: min,
      maxVersion: max,
      flexibleMinVersion: request.flexible ? request.flexible.min : 9999,
      request: schemaOf(request.root),
      response: schemaOf(response.root),
    });
  }
  writeFileSync(join(messagesDir, 'codec-types.ts'), CODEC_TYPES);
  writeFileSync(join(messagesDir, 'index.ts'), mainIndexFile(apis));
  mkdirSync(dirname(schemasFile), { recursive: true });
  writeFileSync(schemasFile, schemasFileText(schemaEntries));
  console.log(`generated ${apis.length} APIs into ${messagesDir}`);
}

main();
