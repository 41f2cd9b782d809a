"""Tests of wasm/relaxed_madd.py: hand-made modules whose immediates hold the FMA's bytes, and the
built test suites (CNNLENS_WASM_PLAIN: linked without the relaxed-SIMD kernels; CNNLENS_WASM_FMA:
with them, already rewritten by the build; CNNLENS_WASM_FMA_OBJECTS: the relaxed-SIMD kernels'
object files, ':'-separated, as clang wrote them), decoded function by function."""

import os
import unittest

import relaxed_madd as rm

FMA = b'\xfd\xaf\x01'
MADD = b'\xfd\x85\x02'


def leb(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def section(sid, payload):
    return bytes([sid]) + leb(len(payload)) + payload


def module(*bodies):
    """A module of functions of type (v128, v128, v128) -> v128 with these expressions."""
    types = section(1, b'\x01\x60\x03\x7b\x7b\x7b\x01\x7b')
    funcs = section(3, leb(len(bodies)) + b'\x00' * len(bodies))
    code = b''.join(leb(len(b'\x00' + e)) + b'\x00' + e for e in bodies)
    return b'\0asm\1\0\0\0' + types + funcs + section(10, leb(len(bodies)) + code)


ARGS = b'\x20\x00\x20\x01\x20\x02'  # local.get 0, 1, 2


def read(name):
    path = os.environ.get(name)
    if not path:
        return None
    with open(path, 'rb') as f:
        return f.read()


class HandMadeModules(unittest.TestCase):
    def test_rewrites_the_instruction_and_keeps_immediates_with_the_same_bytes(self):
        body = (
            # v128.const whose 16 bytes hold the FMA's encoding twice, dropped
            b'\xfd\x0c' + FMA + b'\x00' * 5 + FMA + b'\x00' * 5 + b'\x1a'
            # an i32.const and a load's offset whose LEB128s are the FMA's bytes, dropped
            + b'\x41' + FMA + b'\x1a' + b'\x41\x00\x28\x02' + FMA + b'\x1a'
            # a block with a br_table, then the FMA itself
            + b'\x02\x40\x41\x00\x0e\x01\x00\x00\x0b' + ARGS + FMA + b'\x0b')
        data = module(body)
        self.assertEqual(data.count(FMA), 5)
        out, stats = rm.rewrite(data)
        self.assertEqual(stats['rewritten'], 1)
        self.assertEqual(stats['functions'], 1)
        self.assertEqual(len(out), len(data))
        self.assertEqual(out.count(FMA), 4)  # the four in immediates stay
        changed = [i for i in range(len(data)) if data[i] != out[i]]
        at = len(data) - 4  # the FMA's opcode, before the final end
        self.assertEqual(changed, [at + 1, at + 2])
        self.assertEqual(out[at:at + 3], MADD)

    def test_a_second_run_finds_the_standard_encoding_and_changes_nothing(self):
        once, _ = rm.rewrite(module(ARGS + FMA + b'\x0b', ARGS + FMA + b'\x0b'))
        twice, stats = rm.rewrite(once)
        self.assertEqual(twice, once)
        self.assertEqual((stats['rewritten'], stats['found'], stats['functions']), (0, 2, 2))

    def test_a_body_whose_size_does_not_add_up_is_refused(self):
        data = bytearray(module(ARGS + FMA + b'\x0b'))
        data[-6] = 0x0B  # local.get 2 -> end: the body's expression ends before its size says
        with self.assertRaisesRegex(rm.WasmError, 'function body ends at byte'):
            rm.rewrite(bytes(data))

    def test_other_prototype_relaxed_instructions_are_refused(self):
        fms = b'\xfd\xb0\x01'
        with self.assertRaisesRegex(rm.WasmError, 'no rewrite defined'):
            rm.rewrite(module(ARGS + fms + b'\x0b'))

    def test_unknown_opcodes_are_refused(self):
        with self.assertRaisesRegex(rm.WasmError, 'unknown opcode'):
            rm.rewrite(module(b'\xd7\x0b'))


class BuiltModules(unittest.TestCase):
    def test_the_plain_suite_decodes_and_holds_no_relaxed_fma(self):
        data = read('CNNLENS_WASM_PLAIN')
        if data is None:
            self.skipTest('CNNLENS_WASM_PLAIN not set')
        out, stats = rm.rewrite(data)
        self.assertGreater(stats['functions'], 1000)
        self.assertEqual((stats['rewritten'], stats['found']), (0, 0))
        self.assertEqual(out, data)

    def test_the_fma_suite_holds_only_the_standard_encoding_and_rewrites_exactly_those(self):
        data = read('CNNLENS_WASM_FMA')
        if data is None:
            self.skipTest('CNNLENS_WASM_FMA not set')
        _, stats = rm.rewrite(data)
        self.assertEqual(stats['rewritten'], 0)
        # Every FMA clang emitted for the kernels (the objects hold the prototype encoding) is in
        # the module once, in the standard one: the link's -O3 neither inlined them twice nor
        # dropped any, and nothing else became one.
        objects = [p for p in os.environ.get('CNNLENS_WASM_FMA_OBJECTS', '').split(':') if p]
        if objects:
            emitted = 0
            for path in objects:
                with open(path, 'rb') as f:
                    emitted += rm.rewrite(f.read())[1]['rewritten']
            self.assertGreater(emitted, 0)
            self.assertEqual(stats['found'], emitted, 'FMA instructions: module vs objects')
        self.assertGreater(stats['found'], 0)
        # Back to the prototype encoding and forward again: the same module, and each way
        # changes two bytes of each FMA instruction and nothing else.
        back, back_stats = rm.rewrite(data, old=rm.RELAXED_MADD, new=rm.PROTOTYPE_FMA, refuse=())
        self.assertEqual(back_stats['rewritten'], stats['found'])
        changed = sum(1 for a, b in zip(data, back) if a != b)
        self.assertEqual(changed, 2 * stats['found'])
        forward, forward_stats = rm.rewrite(back)
        self.assertEqual(forward_stats['rewritten'], stats['found'])
        self.assertEqual(forward_stats['instructions'], stats['instructions'])
        self.assertEqual(forward, data)


if __name__ == '__main__':
    unittest.main()
