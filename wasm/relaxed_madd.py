#!/usr/bin/env python3
"""Rewrites a wasm module's relaxed-SIMD FMA from the proposal's first encoding to the standard one.

Emscripten 3.1.6's clang (LLVM 14) emits __builtin_wasm_fma_f32x4 as the relaxed-SIMD proposal's
prototype `f32x4.fma` (0xfd 0xaf 0x01), which browsers no longer decode; they run the standard
`f32x4.relaxed_madd` (0xfd 0x85 0x02): the same operands (a * b + c), the same length. No tool of
that toolchain writes the standard encoding (binaryen 108 keeps the prototype one through
wasm-opt), so this script changes the opcode of each such instruction after the link.

It decodes the code section instruction by instruction, because the bytes 0xfd 0xaf 0x01 also
occur inside immediates (a v128.const, an i32.const, a memory offset) where they must stay. We
decode ourselves because nothing here does: binaryen 108 and LLVM 14 know only the prototype
encoding, and wabt is not installed. The decoder knows every instruction the toolchain can emit
(MVP, sign extension, saturating truncation, bulk memory, reference types, SIMD, threads,
exception handling, tail calls) and fails on any other, and checks that every function body ends
exactly where its size says: a mistake in an immediate's length would show as a body that does
not add up. Other prototype relaxed-SIMD instructions are refused rather than guessed.

Usage: relaxed_madd.py MODULE.wasm [OUT.wasm]   (in place without OUT); prints the count.
"""

import sys

PROTOTYPE_FMA = 0xAF  # 0xfd-prefixed f32x4.fma of the prototype (a * b + c)
RELAXED_MADD = 0x105  # 0xfd-prefixed f32x4.relaxed_madd of the standard

# The other 0xfd-prefixed opcodes of the relaxed-SIMD prototype as LLVM 14 decodes them (swizzle,
# truncations, fms, f64x2 fma, laneselect, min, max): a module holding one is refused, since no
# rewrite is defined for them here.
PROTOTYPE_OTHERS = {0xA2, 0xA5, 0xA6, 0xB0, 0xB2, 0xB3, 0xB4, 0xC5, 0xC6, 0xCF, 0xD0, 0xD2, 0xD3,
                    0xD4, 0xE2, 0xEE}


class WasmError(ValueError):
    pass


class Reader:
    def __init__(self, data, pos=0, end=None):
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def byte(self):
        if self.pos >= self.end:
            raise WasmError(f'unexpected end at byte {self.pos}')
        b = self.data[self.pos]
        self.pos += 1
        return b

    def skip(self, n):
        if self.pos + n > self.end:
            raise WasmError(f'unexpected end at byte {self.pos}')
        self.pos += n

    def u32(self):
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return result
            if shift > 35:
                raise WasmError(f'LEB128 too long at byte {self.pos}')

    def sleb(self, bits):
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                if b & 0x40:
                    result -= 1 << shift
                return result
            if shift > bits + 7:
                raise WasmError(f'LEB128 too long at byte {self.pos}')

    def memarg(self):
        align = self.u32()
        if align & 0x40:  # multi-memory: a memory index follows
            self.u32()
        self.u32()  # offset (u64 with memory64, the same LEB128)


# Immediates of the single-byte opcodes that have any; every other opcode in 0x00-0xd2 either has
# none or is not an instruction.
def _single_byte_table():
    t = {}
    for op in (0x02, 0x03, 0x04, 0x06):  # block, loop, if, try: block type (s33)
        t[op] = 'blocktype'
    for op in (0x07, 0x08, 0x09, 0x0C, 0x0D, 0x10, 0x12, 0x18, 0x20, 0x21, 0x22, 0x23, 0x24,
               0x25, 0x26, 0xD2):  # one index
        t[op] = 'u32'
    t[0x0E] = 'br_table'
    t[0x11] = t[0x13] = 'u32u32'  # call_indirect / return_call_indirect: type, table
    t[0x1C] = 'select_t'
    for op in range(0x28, 0x3F):  # loads and stores
        t[op] = 'memarg'
    t[0x3F] = t[0x40] = 'u32'  # memory.size, memory.grow: memory index
    t[0x41] = 'i32'
    t[0x42] = 'i64'
    t[0x43] = 'f32'
    t[0x44] = 'f64'
    t[0xD0] = 'byte'  # ref.null: reference type
    return t


_SINGLE = _single_byte_table()
_NO_IMMEDIATE = set(range(0x45, 0xC5)) | {0x00, 0x01, 0x05, 0x0B, 0x0F, 0x19, 0x1A, 0x1B, 0xD1}
# 0xfc-prefixed: immediates by sub-opcode.
_FC = {**{op: '' for op in range(0, 8)}, 8: 'u32u32', 9: 'u32', 10: 'u32u32', 11: 'u32',
       12: 'u32u32', 13: 'u32', 14: 'u32u32', 15: 'u32', 16: 'u32', 17: 'u32'}


def _simd_immediate(op):
    if op <= 0x0B or op in (0x5C, 0x5D):
        return 'memarg'
    if op in (0x0C, 0x0D):  # v128.const, i8x16.shuffle
        return 'bytes16'
    if 0x15 <= op <= 0x22:  # extract_lane / replace_lane
        return 'byte'
    if 0x54 <= op <= 0x5B:  # load_lane / store_lane
        return 'memarg_byte'
    if op <= 0x113:
        return ''
    raise WasmError(f'unknown SIMD opcode 0xfd {op:#x}')


def _atomic_immediate(op):
    if op == 0x03:  # atomic.fence
        return 'byte'
    if op <= 0x02 or 0x10 <= op <= 0x4E:
        return 'memarg'
    raise WasmError(f'unknown atomic opcode 0xfe {op:#x}')


def _immediate(r, kind):
    if kind == '':
        return
    if kind == 'u32':
        r.u32()
    elif kind == 'u32u32':
        r.u32()
        r.u32()
    elif kind == 'memarg':
        r.memarg()
    elif kind == 'memarg_byte':
        r.memarg()
        r.byte()
    elif kind == 'byte':
        r.byte()
    elif kind == 'bytes16':
        r.skip(16)
    elif kind == 'blocktype':
        r.sleb(33)
    elif kind == 'i32':
        r.sleb(32)
    elif kind == 'i64':
        r.sleb(64)
    elif kind == 'f32':
        r.skip(4)
    elif kind == 'f64':
        r.skip(8)
    elif kind == 'br_table':
        for _ in range(r.u32() + 1):
            r.u32()
    elif kind == 'select_t':
        for _ in range(r.u32()):
            r.byte()
    else:
        raise AssertionError(kind)


def instructions(data, start, end):
    """Yields (offset, prefix, opcode, opcode_end) for each instruction of one function body's
    expression data[start:end]; prefix is None for single-byte opcodes, opcode_end where the
    opcode's own bytes end. Raises WasmError unless the last `end` closes the body at `end`."""
    r = Reader(data, start, end)
    depth = 1
    while depth:
        at = r.pos
        op = r.byte()
        if op in (0xFC, 0xFD, 0xFE):
            sub = r.u32()
            opcode_end = r.pos
            if op == 0xFC:
                if sub not in _FC:
                    raise WasmError(f'unknown opcode 0xfc {sub:#x} at byte {at}')
                kind = _FC[sub]
            elif op == 0xFD:
                kind = _simd_immediate(sub)
            else:
                kind = _atomic_immediate(sub)
            _immediate(r, kind)
            yield at, op, sub, opcode_end
            continue
        if op in _SINGLE:
            _immediate(r, _SINGLE[op])
        elif op not in _NO_IMMEDIATE:
            raise WasmError(f'unknown opcode {op:#x} at byte {at}')
        if op in (0x02, 0x03, 0x04, 0x06):
            depth += 1
        elif op == 0x0B:
            depth -= 1
        elif op == 0x18:  # delegate ends its try
            depth -= 1
        yield at, None, op, r.pos
    if r.pos != end:
        raise WasmError(f'function body ends at byte {r.pos}, its size says {end}')


def function_bodies(data):
    """Yields (start, end) of each function body's expression (after its locals)."""
    if data[:4] != b'\0asm' or data[4:8] != b'\1\0\0\0':
        raise WasmError('not a WebAssembly module (version 1)')
    r = Reader(data, 8)
    while r.pos < len(data):
        section = r.byte()
        size = r.u32()
        section_end = r.pos + size
        if section_end > len(data):
            raise WasmError(f'section {section} runs past the end')
        if section == 10:
            s = Reader(data, r.pos, section_end)
            for _ in range(s.u32()):
                body_size = s.u32()
                body_end = s.pos + body_size
                for _ in range(s.u32()):  # local declarations: count, type
                    s.u32()
                    s.byte()
                yield s.pos, body_end
                s.pos = body_end
            if s.pos != section_end:
                raise WasmError('code section size does not add up')
        r.pos = section_end


def _leb(value, length):
    out = bytearray()
    for i in range(length):
        b = value & 0x7F
        value >>= 7
        out.append(b | (0x80 if i + 1 < length else 0))
    if value:
        raise WasmError('opcode does not fit the old encoding length')
    return bytes(out)


def rewrite(data, old=PROTOTYPE_FMA, new=RELAXED_MADD, refuse=PROTOTYPE_OTHERS):
    """Returns (module bytes with each 0xfd-prefixed `old` instruction's opcode replaced by `new`
    in the same number of bytes, stats). stats: functions, instructions, rewritten, and found
    (how many 0xfd-prefixed `new` the input held already)."""
    out = bytearray(data)
    stats = {'functions': 0, 'instructions': 0, 'rewritten': 0, 'found': 0}
    for start, end in function_bodies(data):
        stats['functions'] += 1
        for at, prefix, op, opcode_end in instructions(data, start, end):
            stats['instructions'] += 1
            if prefix != 0xFD:
                continue
            if op == new:
                stats['found'] += 1
            elif op == old:
                out[at + 1:opcode_end] = _leb(new, opcode_end - at - 1)
                stats['rewritten'] += 1
            elif op in refuse:
                raise WasmError(f'prototype relaxed-SIMD opcode 0xfd {op:#x} at byte {at}: '
                                'no rewrite defined')
    return bytes(out), stats


def main(argv):
    if len(argv) not in (2, 3):
        sys.exit(__doc__.strip().splitlines()[-1])
    src = argv[1]
    dst = argv[2] if len(argv) == 3 else src
    with open(src, 'rb') as f:
        data = f.read()
    try:
        out, stats = rewrite(data)
    except WasmError as e:
        sys.exit(f'{src}: {e}')
    if stats['rewritten'] + stats['found'] == 0:
        sys.exit(f'{src}: no f32x4 FMA in {stats["functions"]} functions (was it built with '
                 '-mrelaxed-simd?)')
    with open(dst, 'wb') as f:
        f.write(out)
    print(f'{dst}: {stats["rewritten"]} f32x4.fma rewritten to f32x4.relaxed_madd '
          f'({stats["found"]} already standard) in {stats["functions"]} functions, '
          f'{stats["instructions"]} instructions')


if __name__ == '__main__':
    main(sys.argv)
