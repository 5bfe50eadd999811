/**
 * Decode throughput of our pgoutput decoder vs pg-logical-replication's PgoutputParser, on
 * synthetic insert messages of a 6-column row. Prints messages/s; asserts nothing.
 * Run: npx tsx bench/pgoutput-decode.ts [messages]
 */
import { PgoutputParser } from 'pg-logical-replication/dist/output-plugins/pgoutput/pgoutput-parser.js';
import { decodePgoutput } from '../src/sources/postgres/pgoutput.js';

const MESSAGES = Number(process.argv[2] ?? 1_000_000);
const DISTINCT = 1_000;
const RELATION_OID = 16_384;

function cstring(s: string): Buffer {
  return Buffer.concat([Buffer.from(s), Buffer.from([0])]);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

const columns: [name: string, typeOid: number][] = [
  ['id', 20],
  ['email', 25],
  ['full_name', 25],
  ['created_at', 1184],
  ['balance', 1700],
  ['active', 16],
];

const relation = Buffer.concat([
  Buffer.from('R'),
  u32(RELATION_OID),
  cstring('public'),
  cstring('customers'),
  Buffer.from('d'),
  u16(columns.length),
  ...columns.flatMap(([name, typeOid], i) => [
    Buffer.from([i === 0 ? 1 : 0]),
    cstring(name),
    u32(typeOid),
    u32(0xffffffff),
  ]),
]);

function insert(i: number): Buffer {
  const values = [
    String(1_000_000_000 + i),
    `user${i}@example.test`,
    `Zoë Customer ${i}`,
    `2024-02-29 23:59:${String(i % 60).padStart(2, '0')}.${String(i % 1_000_000).padStart(6, '0')}+00`,
    `${i}.${String(i % 100).padStart(2, '0')}`,
    i % 2 === 0 ? 't' : 'f',
  ];
  return Buffer.concat([
    Buffer.from('I'),
    u32(RELATION_OID),
    Buffer.from('N'),
    u16(values.length),
    ...values.flatMap((v) => {
      const text = Buffer.from(v);
      return [Buffer.from('t'), u32(text.length), text];
    }),
  ]);
}

const inserts = Array.from({ length: DISTINCT }, (_, i) => insert(i));

function measure(name: string, decode: (buffer: Buffer) => unknown): void {
  // warm-up, so both decoders are measured optimised
  for (let i = 0; i < 200_000; i++) decode(inserts[i % DISTINCT] as Buffer);
  let sink = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < MESSAGES; i++) {
    if (decode(inserts[i % DISTINCT] as Buffer) !== undefined) sink++;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (sink !== MESSAGES) throw new Error('decoder returned nothing');
  const rate = Math.round(MESSAGES / seconds).toLocaleString('en-US');
  console.log(`${name.padEnd(40)} ${rate.padStart(12)} messages/s  (${seconds.toFixed(2)} s)`);
}

console.log(`${MESSAGES.toLocaleString('en-US')} inserts of a ${columns.length}-column row\n`);
measure('decodePgoutput (raw text, positional)', decodePgoutput);
const parser = new PgoutputParser();
parser.parse(relation);
measure('pg-logical-replication PgoutputParser', (buffer) => parser.parse(buffer));
