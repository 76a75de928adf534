import t from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { Prng, testSeed } from './lib/prng.js'
import { dumpOf, generateRecordSets } from './lib/cdb-gen.js'
import { memoryIo, referenceTool, run } from './lib/tools.js'
import { main as cdbdumpMain } from '../packages/cdb/src/cli/cdbdump.js'
import { main as cdbmakeMain } from '../packages/cdb/src/cli/cdbmake.js'
import { buildCdb } from '../packages/cdb/src/build.js'
import { CdbReader } from '../packages/cdb/src/reader.js'
import { CdbWriter } from '../packages/cdb/src/writer.js'

// The real tools: freecdb's cdbmake/cdbdump/cdbget and tinycdb's cdb.
const cdbmake = referenceTool('cdbmake', 'Debian freecdb')
const cdbdump = referenceTool('cdbdump', 'Debian freecdb')
const cdbget = referenceTool('cdbget', 'Debian freecdb')
const tinycdb = referenceTool('cdb', 'Debian tinycdb')
const skip = cdbmake.skip || cdbdump.skip || cdbget.skip || tinycdb.skip
const seed = testSeed()
const sets = generateRecordSets(new Prng(seed))

t.test('generated record sets: same bytes, dumps and lookups as freecdb and tinycdb', { skip }, async t => {
  const dir = t.testdir({})
  for (const { name, records } of sets) {
    const label = `seed ${seed}, ${name}`
    const input = dumpOf(records)
    writeFileSync(`${dir}/in`, input)
    // Ours, through the library's streaming writer.
    const w = CdbWriter.create(`${dir}/ours.cdb`)
    for (const [k, d] of records) w.add(k, d)
    await w.finish()
    const ours = readFileSync(`${dir}/ours.cdb`)
    const ref = run(cdbmake.path!, [`${dir}/ref.cdb`, `${dir}/ref.tmp`], input)
    t.equal(ref.status, 0, `${label}: cdbmake ${ref.stderr}`)
    const refBytes = readFileSync(`${dir}/ref.cdb`)
    if (!ours.equals(refBytes)) {
      t.fail(`${label}: our cdb differs from cdbmake's`)
      continue
    }
    t.same(buildCdb(records), refBytes, `${label}: buildCdb`)
    const tiny = run(tinycdb.path!, ['-c', '-t', `${dir}/tiny.tmp`, `${dir}/tiny.cdb`, `${dir}/in`])
    t.equal(tiny.status, 0, `${label}: cdb -c ${tiny.stderr}`)
    t.ok(readFileSync(`${dir}/tiny.cdb`).equals(ours), `${label}: same bytes as tinycdb`)
    // Dumps: freecdb, tinycdb, our cdbdump; all equal to the input.
    const theirDump = run('/bin/sh', ['-c', 'exec "$0" < "$1"', cdbdump.path!, `${dir}/ours.cdb`]).stdout
    const tinyDump = run(tinycdb.path!, ['-d', `${dir}/ours.cdb`]).stdout
    const mem = memoryIo(refBytes)
    t.equal(await cdbdumpMain([], mem.io), 0)
    const ourDump = mem.stdout()
    t.same(
      [theirDump.equals(input), tinyDump.equals(input), ourDump.equals(input)],
      [true, true, true],
      `${label}: dumps`,
    )
    // Lookups both ways: our reader on their file for every key, their cdbget on ours for a sample.
    const reader = CdbReader.fromBuffer(refBytes)
    const expected = new Map<string, Buffer[]>()
    for (const [k, d] of records) {
      const key = k.toString('latin1')
      expected.set(key, [...(expected.get(key) ?? []), d])
    }
    let mismatches = 0
    for (const [key, values] of expected) {
      const got = reader.getAll(Buffer.from(key, 'latin1'))
      if (got.length !== values.length || got.some((g, i) => !g.equals(values[i]!))) mismatches++
    }
    t.equal(mismatches, 0, `${label}: our reader on cdbmake's file`)
    const rng = new Prng(seed ^ records.length)
    // cdbget's key is an argument: no NUL, and no final LF (the shell's $(...) would drop it).
    const keys = [...expected.keys()].filter(k => k.length > 0 && !k.includes('\0') && !k.endsWith('\n'))
    for (let i = 0; i < Math.min(8, keys.length); i++) {
      const key = keys[rng.int(keys.length)]!
      const values = expected.get(key)!
      const skipN = rng.int(values.length + 1)
      // The raw key bytes are made by printf in a shell: spawn() would re-encode them as UTF-8.
      const octal = [...Buffer.from(key, 'latin1')].map(b => `\\${b.toString(8).padStart(3, '0')}`).join('')
      const r = run('/bin/sh', [
        '-c',
        `exec "$0" "$(printf '${octal}')" "$1" < "$2"`,
        cdbget.path!,
        String(skipN),
        `${dir}/ours.cdb`,
      ])
      if (skipN < values.length)
        t.ok(
          r.status === 0 && r.stdout.equals(values[skipN]!),
          `${label}: cdbget ${JSON.stringify(key)} ${skipN}`,
        )
      else t.equal(r.status, 100, `${label}: cdbget past the last value`)
    }
  }
})

t.test('our cdbmake command builds the same file as freecdb and fails the same way', { skip }, async t => {
  const dir = t.testdir({})
  const rng = new Prng(seed + 1)
  const inputs: Buffer[] = sets.slice(1, 12).map(s => dumpOf(s.records))
  // Broken inputs: truncations and byte flips of valid ones.
  for (let i = 0; i < 200; i++) {
    const base = inputs[rng.int(11)]!
    const b = Buffer.from(base.subarray(0, rng.chance(0.5) ? rng.int(base.length) : base.length))
    if (b.length && rng.chance(0.7))
      b[rng.int(b.length)] = rng.pick([0x2b, 0x2c, 0x3a, 0x2d, 0x3e, 0x0a, 0x41, 0x39])
    inputs.push(b)
  }
  for (const [i, input] of inputs.entries()) {
    const ref = run(cdbmake.path!, [`${dir}/r.cdb`, `${dir}/r.tmp`], input)
    // In-process: one Node start per input would cost more than the whole comparison.
    const mem = memoryIo(input)
    const status = await cdbmakeMain([Buffer.from(`${dir}/o.cdb`), Buffer.from(`${dir}/r.tmp`)], mem.io)
    t.same(
      [status, mem.stderr().toString('latin1')],
      [ref.status, ref.stderr.toString('latin1')],
      `seed ${seed} cdbmake input ${i}`,
    )
    if (ref.status === 0)
      t.ok(readFileSync(`${dir}/o.cdb`).equals(readFileSync(`${dir}/r.cdb`)), `input ${i} bytes`)
  }
})
