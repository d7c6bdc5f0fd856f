import XCTest
import CPU
@testable import Devices

final class VGATests: XCTestCase {
    // MARK: Helpers (absolute ports and physical addresses, as a guest sees them)

    func outb(_ v: VGA, _ port: Int, _ value: UInt8) {
        v.ports.ioWrite(offset: UInt64(port - 0x3B0), size: 1, value: UInt64(value))
    }
    func outw(_ v: VGA, _ port: Int, _ value: UInt16) {
        v.ports.ioWrite(offset: UInt64(port - 0x3B0), size: 2, value: UInt64(value))
    }
    func inb(_ v: VGA, _ port: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: v.ports.ioRead(offset: UInt64(port - 0x3B0), size: 1))
    }
    func seq(_ v: VGA, _ i: UInt8, _ value: UInt8) { outb(v, 0x3C4, i); outb(v, 0x3C5, value) }
    func gfx(_ v: VGA, _ i: UInt8, _ value: UInt8) { outb(v, 0x3CE, i); outb(v, 0x3CF, value) }
    func crtc(_ v: VGA, _ i: UInt8, _ value: UInt8) { outb(v, 0x3D4, i); outb(v, 0x3D5, value) }
    func readCRTC(_ v: VGA, _ i: UInt8) -> UInt8 { outb(v, 0x3D4, i); return inb(v, 0x3D5) }
    func poke(_ v: VGA, _ address: Int, _ value: UInt64, size: Int = 1) {
        v.memoryWindow.ioWrite(offset: UInt64(address - 0xA0000), size: size, value: value)
    }
    func peek(_ v: VGA, _ address: Int, size: Int = 1) -> UInt64 {
        v.memoryWindow.ioRead(offset: UInt64(address - 0xA0000), size: size)
    }
    func plane(_ v: VGA, _ p: Int, _ offset: Int) -> UInt8 { v.state.vram[p * 0x10000 + offset] }
    func vbeWrite(_ v: VGA, _ index: UInt16, _ value: UInt16) {
        v.vbePorts.ioWrite(offset: 0, size: 2, value: UInt64(index))
        v.vbePorts.ioWrite(offset: 1, size: 2, value: UInt64(value))
    }
    func vbeRead(_ v: VGA, _ index: UInt16) -> UInt16 {
        v.vbePorts.ioWrite(offset: 0, size: 2, value: UInt64(index))
        return UInt16(truncatingIfNeeded: v.vbePorts.ioRead(offset: 1, size: 2))
    }
    /// Writes `text` at a cell of the 80-column screen with one attribute.
    func putText(_ v: VGA, row: Int, column: Int, _ text: String, attribute: UInt8 = 0x07) {
        for (i, b) in text.utf8.enumerated() {
            poke(v, 0xB8000 + (row * 80 + column + i) * 2, UInt64(b) | UInt64(attribute) << 8, size: 2)
        }
    }
    /// Planar 16-colour addressing (mode 12h memory setup): A0000 64K, no chain, no odd/even.
    func planar(_ v: VGA) {
        seq(v, 2, 0x0F); seq(v, 4, 0x06)
        gfx(v, 5, 0x00); gfx(v, 6, 0x05); gfx(v, 8, 0xFF)
    }
    /// Stores one byte in each plane at `offset` through the map mask.
    func fillPlanes(_ v: VGA, _ offset: Int, _ bytes: [UInt8]) {
        for p in 0..<4 { seq(v, 2, 1 << p); poke(v, 0xA0000 + offset, UInt64(bytes[p])) }
        seq(v, 2, 0x0F)
    }

    // MARK: Power-on and text

    func testPowerOnIsMode3Text() {
        let v = VGA()
        XCTAssertTrue(v.isTextMode)
        XCTAssertEqual(v.textGeometry.columns, 80)
        XCTAssertEqual(v.textGeometry.rows, 25)
        let lines = v.textLines()
        XCTAssertEqual(lines.count, 25)
        XCTAssertTrue(lines.allSatisfy { $0 == String(repeating: " ", count: 80) })
        XCTAssertEqual(inb(v, 0x3CC), 0x67)
        XCTAssertEqual(readCRTC(v, 0x0A), 0x0D)
        XCTAssertEqual(readCRTC(v, 0x0B), 0x0E)
        XCTAssertEqual(v.cursorPosition?.row, 0)
        XCTAssertEqual(v.cursorPosition?.column, 0)
        outb(v, 0x3CE, 6); XCTAssertEqual(inb(v, 0x3CF), 0x0E)
        outb(v, 0x3C4, 4); XCTAssertEqual(inb(v, 0x3C5), 0x02)
        XCTAssertEqual(inb(v, 0x3C0), 0x20)           // palette address source: display on
        XCTAssertEqual(v.dacColor(0x14).red, 0x2A)     // brown = 2/3 red, 1/3 green
        XCTAssertEqual(v.dacColor(0x14).green, 0x15)
        XCTAssertEqual(v.dacColor(0x3F).blue, 0x3F)
        XCTAssertNil(v.vbeMode)
    }

    func testTextWrittenThroughWindowAppears() {
        let v = VGA()
        putText(v, row: 2, column: 5, "Hello, VGA!", attribute: 0x1F)
        poke(v, 0xB8000 + (24 * 80 + 79) * 2, 0x01)    // not printable
        let lines = v.textLines()
        XCTAssertEqual(lines[2], String(repeating: " ", count: 5) + "Hello, VGA!" + String(repeating: " ", count: 64))
        XCTAssertEqual(lines[24].last, ".")
        // Character in plane 0, attribute in plane 1, both at the even plane offset.
        let cell = 2 * 80 + 5
        XCTAssertEqual(plane(v, 0, cell * 2), UInt8(ascii: "H"))
        XCTAssertEqual(plane(v, 1, cell * 2), 0x1F)
        XCTAssertEqual(plane(v, 0, cell * 2 + 1), 0)   // odd offsets untouched
        XCTAssertEqual(v.textCell(row: 2, column: 5)?.character, UInt8(ascii: "H"))
        XCTAssertEqual(v.textCell(row: 2, column: 5)?.attribute, 0x1F)
        XCTAssertNil(v.textCell(row: 25, column: 0))
        // Word and byte reads give back what was written.
        XCTAssertEqual(peek(v, 0xB8000 + cell * 2, size: 2), 0x1F48)
        XCTAssertEqual(peek(v, 0xB8000 + cell * 2 + 1), 0x1F)
        XCTAssertEqual(peek(v, 0xB8000 + cell * 2, size: 8), 0x1F6C_1F6C_1F65_1F48)
        // Linux vgacon's presence probe.
        poke(v, 0xB8000, 0xAA55, size: 2); poke(v, 0xB8002, 0x55AA, size: 2)
        XCTAssertEqual(peek(v, 0xB8000, size: 2), 0xAA55)
        XCTAssertEqual(peek(v, 0xB8002, size: 2), 0x55AA)
        XCTAssertEqual(peek(v, 0xB8000, size: 4), 0x55AA_AA55)
        // The start address scrolls: row 1 now shows what row 2 held.
        crtc(v, 0x0C, 0); crtc(v, 0x0D, 80)
        XCTAssertTrue(v.textLines()[1].hasPrefix("     Hello"))
        // 40 columns once the protect bit is off and CR01/CR13 change.
        crtc(v, 0x11, 0x0E); crtc(v, 0x01, 39); crtc(v, 0x13, 20); crtc(v, 0x0D, 0)
        XCTAssertEqual(v.textLines()[4], "     Hello, VGA!" + String(repeating: " ", count: 24))
        // Graphics mode: no text.
        gfx(v, 6, 0x05)
        XCTAssertFalse(v.isTextMode)
        XCTAssertEqual(v.textLines(), [])
        XCTAssertNil(v.cursorPosition)
    }

    func testOddEvenReadMapSelectAndFontLoad() {
        let v = VGA()
        // Text mode odd/even: GR4 bit 1 selects planes 2/3 for reads.
        putText(v, row: 0, column: 0, "A", attribute: 0x4E)
        XCTAssertEqual(peek(v, 0xB8000), 0x41)
        XCTAssertEqual(peek(v, 0xB8001), 0x4E)
        // Font loading as vgacon/vgabios do: plane 2 only, sequential, A0000.
        seq(v, 0, 0x01); seq(v, 2, 0x04); seq(v, 4, 0x07); seq(v, 0, 0x03)
        gfx(v, 4, 0x02); gfx(v, 5, 0x00); gfx(v, 6, 0x00)
        for i in 0..<16 { poke(v, 0xA0000 + 0x41 * 32 + i, UInt64(0x80 | i)) }
        XCTAssertEqual(peek(v, 0xA0000 + 0x41 * 32 + 3), 0x83)
        XCTAssertEqual(plane(v, 2, 0x41 * 32 + 3), 0x83)
        XCTAssertEqual(plane(v, 0, 0x41 * 32 + 2), 0x20)   // text untouched
        // Back to text addressing.
        seq(v, 2, 0x03); seq(v, 4, 0x02); gfx(v, 4, 0x00); gfx(v, 5, 0x10); gfx(v, 6, 0x0E)
        XCTAssertEqual(v.textLines()[0].first, "A")
        gfx(v, 4, 0x02)
        XCTAssertEqual(peek(v, 0xB8000 + 0x41 * 32 + 2), 0x82)   // even address: plane 2
        XCTAssertEqual(peek(v, 0xB8001), 0)                     // odd address: plane 3
    }

    // MARK: Memory map select

    func testMemoryMapSelect() {
        let maps: [(gr6: UInt8, decodes: [Bool])] = [
            (0x01, [true, true, true]),    // A0000 128K
            (0x05, [true, false, false]),  // A0000 64K
            (0x09, [false, true, false]),  // B0000 32K
            (0x0D, [false, false, true]),  // B8000 32K
        ]
        let addresses = [0xA0010, 0xB0020, 0xB8030]
        for map in maps {
            let v = VGA()
            planar(v)
            gfx(v, 6, map.gr6)
            for (i, a) in addresses.enumerated() { poke(v, a, UInt64(0x5A + i)) }
            for (i, a) in addresses.enumerated() {
                let inside = map.decodes[i]
                XCTAssertEqual(peek(v, a), inside ? UInt64(0x5A + i) : 0xFF, "GR6 \(map.gr6) address \(a)")
                XCTAssertEqual(peek(v, a, size: 2) >> 8, inside ? 0 : 0xFF)
            }
            // Where did the bytes land: offsets 0x10 / 0x20 / 0x30 of the maps (0x8030 for the
            // 128K map's B8000 part); nothing anywhere else.
            let landing: [Int] = map.gr6 == 0x01 ? [0x10, 0x0020, 0x8030] : [0x10, 0x20, 0x30]
            for (i, o) in landing.enumerated() {
                XCTAssertEqual(plane(v, 3, o), map.decodes[i] ? UInt8(0x5A + i) : 0, "GR6 \(map.gr6) offset \(o)")
            }
        }
        // Text mode's B8000 map: writes to A0000 are ignored.
        let v = VGA()
        poke(v, 0xA0000, 0x41)
        XCTAssertEqual(peek(v, 0xA0000), 0xFF)
        XCTAssertEqual(plane(v, 0, 0), 0x20)
    }

    // MARK: Write and read modes

    func testWriteMode0SetResetRotateFunctionBitMaskMapMask() {
        let v = VGA()
        planar(v)
        poke(v, 0xA0000, 0xA5)
        for p in 0..<4 { XCTAssertEqual(plane(v, p, 0), 0xA5) }
        for p in 0..<4 { gfx(v, 4, UInt8(p)); XCTAssertEqual(peek(v, 0xA0000), 0xA5) }
        // Set/reset on all planes: colour 5 → planes 0 and 2 all ones.
        gfx(v, 0, 0x05); gfx(v, 1, 0x0F)
        poke(v, 0xA0001, 0x00)
        XCTAssertEqual([0, 1, 2, 3].map { plane(v, $0, 1) }, [0xFF, 0x00, 0xFF, 0x00])
        // Enable set/reset on planes 0-1 only: planes 2-3 take the CPU byte.
        gfx(v, 0, 0x01); gfx(v, 1, 0x03)
        poke(v, 0xA0002, 0x3C)
        XCTAssertEqual([0, 1, 2, 3].map { plane(v, $0, 2) }, [0xFF, 0x00, 0x3C, 0x3C])
        gfx(v, 1, 0x00)
        // Rotate right by 1.
        gfx(v, 3, 0x01)
        poke(v, 0xA0003, 0x01)
        XCTAssertEqual(plane(v, 0, 3), 0x80)
        gfx(v, 3, 0x04)
        poke(v, 0xA0003, 0x12)
        XCTAssertEqual(plane(v, 1, 3), 0x21)
        // Logical functions with the latches.
        fillPlanes(v, 4, [0xF0, 0x3C, 0xFF, 0x00])
        for (fn, expect) in [(0x08, [0x00, 0x0C, 0x0F, 0x00]), (0x10, [0xFF, 0x3F, 0xFF, 0x0F]),
                             (0x18, [0xFF, 0x33, 0xF0, 0x0F])] as [(UInt8, [UInt8])] {
            gfx(v, 3, 0x00)
            fillPlanes(v, 4, [0xF0, 0x3C, 0xFF, 0x00])
            gfx(v, 3, fn)
            _ = peek(v, 0xA0004)                      // load latches
            poke(v, 0xA0004, 0x0F)
            XCTAssertEqual([0, 1, 2, 3].map { plane(v, $0, 4) }, expect, "function \(fn)")
        }
        gfx(v, 3, 0x00)
        // Bit mask: unmasked bits come from the latches.
        fillPlanes(v, 5, [0x11, 0x22, 0x44, 0x88])
        gfx(v, 8, 0xF0)
        _ = peek(v, 0xA0005)
        poke(v, 0xA0005, 0xFF)
        XCTAssertEqual([0, 1, 2, 3].map { plane(v, $0, 5) }, [0xF1, 0xF2, 0xF4, 0xF8])
        gfx(v, 8, 0xFF)
        // Map mask: plane 1 only.
        seq(v, 2, 0x02)
        poke(v, 0xA0007, 0x77)
        XCTAssertEqual([0, 1, 2, 3].map { plane(v, $0, 7) }, [0x00, 0x77, 0x00, 0x00])
    }

    func testWriteModes1To3() {
        let v = VGA()
        planar(v)
        // Mode 1 copies the latches (a screen-to-screen copy).
        fillPlanes(v, 0x100, [0x12, 0x34, 0x56, 0x78])
        gfx(v, 5, 0x01)
        _ = peek(v, 0xA0100)
        poke(v, 0xA0200, 0xEE)
        XCTAssertEqual([0, 1, 2, 3].map { plane(v, $0, 0x200) }, [0x12, 0x34, 0x56, 0x78])
        // Mode 2: CPU bits 0-3 are a colour spread over all eight pixels, under the bit mask.
        gfx(v, 5, 0x00)
        fillPlanes(v, 0x300, [0x00, 0x00, 0x00, 0x00])
        gfx(v, 5, 0x02)
        _ = peek(v, 0xA0300)
        gfx(v, 8, 0x0F)
        poke(v, 0xA0300, 0x05)
        XCTAssertEqual([0, 1, 2, 3].map { plane(v, $0, 0x300) }, [0x0F, 0x00, 0x0F, 0x00])
        gfx(v, 8, 0xFF)
        // Mode 3: set/reset colour, bit mask ANDed with the rotated CPU byte.
        gfx(v, 5, 0x00)
        fillPlanes(v, 0x400, [0x0F, 0x0F, 0x0F, 0x0F])
        gfx(v, 5, 0x03); gfx(v, 0, 0x06)
        _ = peek(v, 0xA0400)
        poke(v, 0xA0400, 0xF0)
        XCTAssertEqual([0, 1, 2, 3].map { plane(v, $0, 0x400) }, [0x0F, 0xFF, 0xFF, 0x0F])
        gfx(v, 5, 0x00)
        fillPlanes(v, 0x401, [0xF0, 0xF0, 0xF0, 0xF0])
        gfx(v, 5, 0x03); gfx(v, 3, 0x04)             // rotate 4: mask becomes 0x0F
        _ = peek(v, 0xA0401)
        poke(v, 0xA0401, 0xF0)
        XCTAssertEqual([0, 1, 2, 3].map { plane(v, $0, 0x401) }, [0xF0, 0xFF, 0xFF, 0xF0])
    }

    func testReadModes() {
        let v = VGA()
        planar(v)
        fillPlanes(v, 0x10, [0xFF, 0x0F, 0x33, 0x00])
        for (p, b) in [0xFF, 0x0F, 0x33, 0x00].enumerated() {
            gfx(v, 4, UInt8(p))
            XCTAssertEqual(peek(v, 0xA0010), UInt64(b))
        }
        // Read mode 1: colour compare 0011 (planes 0, 1 set) with all planes cared about.
        gfx(v, 5, 0x08); gfx(v, 2, 0x03); gfx(v, 7, 0x0F)
        XCTAssertEqual(peek(v, 0xA0010), 0x0C)
        gfx(v, 7, 0x01)                              // only plane 0 matters
        XCTAssertEqual(peek(v, 0xA0010), 0xFF)
        gfx(v, 7, 0x00)                              // nothing matters
        XCTAssertEqual(peek(v, 0xA0010), 0xFF)
        gfx(v, 2, 0x00); gfx(v, 7, 0x0F)             // colour 0: no bit has all planes clear
        XCTAssertEqual(peek(v, 0xA0010), 0x00)
        // The read loaded the latches.
        XCTAssertEqual(v.state.latches, [0xFF, 0x0F, 0x33, 0x00])
    }

    func testChain4() {
        let v = VGA()
        // Mode 13h memory setup.
        seq(v, 2, 0x0F); seq(v, 4, 0x0E)
        gfx(v, 5, 0x40); gfx(v, 6, 0x05)
        for i in 0..<8 { poke(v, 0xA0000 + i, UInt64(0x10 + i)) }
        // Pixel n: plane n & 3 at offset n & ~3.
        for i in 0..<8 { XCTAssertEqual(plane(v, i & 3, i & ~3), UInt8(0x10 + i)) }
        XCTAssertEqual(plane(v, 0, 1), 0)
        for i in 0..<8 { XCTAssertEqual(peek(v, 0xA0000 + i), UInt64(0x10 + i)) }
        XCTAssertEqual(peek(v, 0xA0000, size: 4), 0x1312_1110)
        poke(v, 0xA0000 + 320 * 199 + 319, 0x2A)
        XCTAssertEqual(peek(v, 0xA0000 + 320 * 199 + 319), 0x2A)
        XCTAssertEqual(plane(v, 3, (320 * 199 + 319) & ~3), 0x2A)
        // The map mask still gates planes.
        seq(v, 2, 0x01)
        poke(v, 0xA0001, 0x99); poke(v, 0xA0004, 0x98)
        XCTAssertEqual(peek(v, 0xA0001), 0x11)
        XCTAssertEqual(peek(v, 0xA0004), 0x98)
    }

    // MARK: Ports

    func testAttributeFlipFlopResetByInputStatus1() {
        let v = VGA()
        _ = inb(v, 0x3DA)
        outb(v, 0x3C0, 0x01); outb(v, 0x3C0, 0x15)     // PAS 0: palette writable
        outb(v, 0x3C0, 0x01)
        XCTAssertEqual(inb(v, 0x3C1), 0x15)
        XCTAssertEqual(inb(v, 0x3C0), 0x01)
        // Half-way: index written, then a status read puts the flip-flop back to "index".
        outb(v, 0x3C0, 0x32)                             // data: AR01 = 0x32
        XCTAssertEqual(v.state.attribute[1], 0x32)
        outb(v, 0x3C0, 0x12)                             // index 0x12
        _ = inb(v, 0x3DA)
        outb(v, 0x3C0, 0x33)                             // an index again, not AR12 data
        XCTAssertEqual(inb(v, 0x3C0), 0x33)
        XCTAssertEqual(v.state.attribute[0x12], 0x0F)
        outb(v, 0x3C0, 0x0A)                             // data for AR13
        XCTAssertEqual(v.state.attribute[0x13], 0x0A)
        // PAS = 1 locks the palette registers; the others stay writable.
        _ = inb(v, 0x3DA)
        outb(v, 0x3C0, 0x21); outb(v, 0x3C0, 0x3F)
        XCTAssertEqual(v.state.attribute[1], 0x32)
        outb(v, 0x3C0, 0x31); outb(v, 0x3C0, 0x07)
        XCTAssertEqual(v.state.attribute[0x11], 0x07)
        // out dx, ax to 0x3C0: index then data.
        _ = inb(v, 0x3DA)
        outw(v, 0x3C0, 0x2C_02)
        XCTAssertEqual(v.state.attribute[2], 0x2C)
        // In mono mode the flip-flop resets through 0x3BA and 0x3DA is dead.
        outb(v, 0x3C2, 0x66)
        outb(v, 0x3C0, 0x25)
        XCTAssertEqual(inb(v, 0x3DA), 0xFF)
        outb(v, 0x3C0, 0x24)                             // data (PAS=1, palette locked)
        outb(v, 0x3C0, 0x13)                             // index; the flip-flop is at data
        _ = inb(v, 0x3BA)
        outb(v, 0x3C0, 0x14)
        XCTAssertEqual(inb(v, 0x3C0), 0x14)
    }

    func testInputStatus1Toggles() {
        let v = VGA()
        var seen: Set<UInt8> = []
        for _ in 0..<4 { seen.insert(inb(v, 0x3DA) & 0x09) }
        XCTAssertTrue(seen.contains(0x00))
        XCTAssertTrue(seen.contains(0x09))
        // Typical polling loops terminate.
        var n = 0
        while inb(v, 0x3DA) & 0x08 != 0 && n < 10 { n += 1 }
        while inb(v, 0x3DA) & 0x08 == 0 && n < 10 { n += 1 }
        while inb(v, 0x3DA) & 0x01 == 0 && n < 10 { n += 1 }
        XCTAssertLessThan(n, 10)
        // Feature control: written at 0x3DA, read at 0x3CA.
        outb(v, 0x3DA, 0x03)
        XCTAssertEqual(inb(v, 0x3CA), 0x03)
    }

    func testCRTCProtectAndRanges() {
        let v = VGA()
        XCTAssertEqual(readCRTC(v, 0x11) & 0x80, 0x80)
        crtc(v, 0x01, 0x27)
        XCTAssertEqual(readCRTC(v, 0x01), 0x4F)
        crtc(v, 0x07, 0x00)                              // only bit 4 (line compare bit 8) sticks
        XCTAssertEqual(readCRTC(v, 0x07), 0x0F)
        crtc(v, 0x07, 0xFF)
        XCTAssertEqual(readCRTC(v, 0x07), 0x1F)
        crtc(v, 0x0C, 0x12)                              // above 7: never protected
        XCTAssertEqual(readCRTC(v, 0x0C), 0x12)
        crtc(v, 0x0C, 0x00)
        outw(v, 0x3D4, 0x0E_11)                           // out dx, ax: clear protect
        XCTAssertEqual(readCRTC(v, 0x11), 0x0E)
        outw(v, 0x3D4, 0x27_01)
        XCTAssertEqual(readCRTC(v, 0x01), 0x27)
        XCTAssertEqual(v.textGeometry.columns, 40)
        // Undefined CRTC registers read 0xFF and ignore writes.
        crtc(v, 0x30, 0x55)
        XCTAssertEqual(readCRTC(v, 0x30), 0xFF)
        // Mono addressing: the CRTC moves to 0x3B4/0x3B5, 0x3D4/0x3D5 go dead.
        outb(v, 0x3C2, 0x66)
        XCTAssertEqual(inb(v, 0x3CC), 0x66)
        let before = v.unknownAccesses
        outb(v, 0x3D4, 0x01); outb(v, 0x3D5, 0x10)
        XCTAssertEqual(inb(v, 0x3D5), 0xFF)
        XCTAssertGreaterThan(v.unknownAccesses, before)
        outb(v, 0x3B4, 0x01)
        XCTAssertEqual(inb(v, 0x3B5), 0x27)
        outb(v, 0x3B5, 0x4F)
        outb(v, 0x3C2, 0x67)
        XCTAssertEqual(readCRTC(v, 0x01), 0x4F)
        XCTAssertEqual(inb(v, 0x3B5), 0xFF)
        // Sequencer/graphics write masks and index wrap.
        outb(v, 0x3C4, 0x0A); XCTAssertEqual(inb(v, 0x3C4), 0x02)
        outb(v, 0x3C5, 0xFF); XCTAssertEqual(inb(v, 0x3C5), 0x0F)
        gfx(v, 5, 0xFF); XCTAssertEqual(inb(v, 0x3CF), 0x7B)
    }

    func testDACSequencing() {
        let v = VGA()
        outb(v, 0x3C8, 5)
        for c: UInt8 in [0x01, 0x02, 0x03, 0x3F, 0xFF, 0x40] { outb(v, 0x3C9, c) }
        XCTAssertEqual(inb(v, 0x3C8), 7)
        XCTAssertEqual(v.dacColor(5).red, 0x01)
        XCTAssertEqual(v.dacColor(5).blue, 0x03)
        XCTAssertEqual(v.dacColor(6).red, 0x3F)
        XCTAssertEqual(v.dacColor(6).green, 0x3F)          // 6-bit DAC: 0xFF → 0x3F
        XCTAssertEqual(v.dacColor(6).blue, 0x00)
        XCTAssertEqual(inb(v, 0x3C7), 0x00)                // write mode
        outb(v, 0x3C7, 5)
        XCTAssertEqual(inb(v, 0x3C7), 0x03)                // read mode
        XCTAssertEqual((0..<6).map { _ in inb(v, 0x3C9) }, [0x01, 0x02, 0x03, 0x3F, 0x3F, 0x00])
        // A partly written entry is not committed; a new address restarts the sequence.
        outb(v, 0x3C8, 9)
        outb(v, 0x3C9, 0x11); outb(v, 0x3C9, 0x12)
        XCTAssertEqual(v.dacColor(9).red, 0)
        outb(v, 0x3C8, 9)
        outb(v, 0x3C9, 0x21); outb(v, 0x3C9, 0x22); outb(v, 0x3C9, 0x23)
        XCTAssertEqual(v.dacColor(9).red, 0x21)
        XCTAssertEqual(v.dacColor(9).blue, 0x23)
        // The index wraps from 255 to 0.
        outb(v, 0x3C8, 255)
        for c: UInt8 in [1, 2, 3, 4, 5, 6] { outb(v, 0x3C9, c) }
        XCTAssertEqual(v.dacColor(255).green, 2)
        XCTAssertEqual(v.dacColor(0).red, 4)
        // Pixel mask.
        outb(v, 0x3C6, 0x0F)
        XCTAssertEqual(inb(v, 0x3C6), 0x0F)
    }

    func testCursorPosition() {
        let v = VGA()
        crtc(v, 0x0E, 0x00); crtc(v, 0x0F, 165)
        XCTAssertEqual(v.cursorPosition?.row, 2)
        XCTAssertEqual(v.cursorPosition?.column, 5)
        crtc(v, 0x0E, 0x07); crtc(v, 0x0F, 0xCF)                 // 1999: bottom right
        XCTAssertEqual(v.cursorPosition?.row, 24)
        XCTAssertEqual(v.cursorPosition?.column, 79)
        crtc(v, 0x0C, 0x00); crtc(v, 0x0D, 80)                   // scrolled by a row
        XCTAssertEqual(v.cursorPosition?.row, 23)
        crtc(v, 0x0D, 0)
        crtc(v, 0x0E, 0x07); crtc(v, 0x0F, 0xD0)                 // 2000: below the screen
        XCTAssertNil(v.cursorPosition)
        crtc(v, 0x0E, 0x00); crtc(v, 0x0F, 0x01)
        XCTAssertEqual(v.cursorPosition?.column, 1)
        crtc(v, 0x0A, 0x2D)                                      // cursor off
        XCTAssertNil(v.cursorPosition)
        crtc(v, 0x0A, 0x0D)
        XCTAssertNotNil(v.cursorPosition)
    }

    // MARK: VBE

    func testVBEDispi() {
        let v = VGA()
        XCTAssertEqual(vbeRead(v, 0), 0xB0C5)
        vbeWrite(v, 0, 0xB0C0)
        XCTAssertEqual(vbeRead(v, 0), 0xB0C0)
        vbeWrite(v, 0, 0x1234)
        XCTAssertEqual(vbeRead(v, 0), 0xB0C0)
        vbeWrite(v, 0, 0xB0C5)
        XCTAssertEqual(vbeRead(v, 10), 256)                       // 16 MiB in 64 KiB units
        vbeWrite(v, 4, 0x02)                                     // capabilities
        XCTAssertEqual(vbeRead(v, 1), 2560)
        XCTAssertEqual(vbeRead(v, 3), 32)
        vbeWrite(v, 4, 0x00)
        XCTAssertEqual(vbeRead(v, 1), 640)
        // Dirty some memory, then set 800x600x32 with the LFB as bochs-drm does.
        v.linearFramebuffer.ioWrite(offset: 100, size: 4, value: 0xDEAD_BEEF)
        for (i, x) in [(4, 0), (3, 32), (1, 800), (2, 600), (5, 0), (6, 800), (7, 1200), (8, 0), (9, 0),
                       (4, 0x41)] as [(UInt16, UInt16)] { vbeWrite(v, i, x) }
        XCTAssertFalse(v.isTextMode)
        XCTAssertEqual(v.textLines(), [])
        let m = v.vbeMode
        XCTAssertEqual(m?.width, 800)
        XCTAssertEqual(m?.height, 600)
        XCTAssertEqual(m?.bpp, 32)
        XCTAssertEqual(m?.bytesPerLine, 3200)
        XCTAssertEqual(m?.offset, 0)
        XCTAssertEqual(v.linearFramebuffer.ioRead(offset: 100, size: 4), 0)   // cleared
        XCTAssertEqual(vbeRead(v, 7), UInt16((16 << 20) / 3200))
        // XRES is frozen while enabled; panning is not.
        vbeWrite(v, 1, 1024)
        XCTAssertEqual(vbeRead(v, 1), 800)
        vbeWrite(v, 9, 600)
        XCTAssertEqual(v.vbeMode?.offset, 600 * 3200)
        // LFB and the banked window see the same memory.
        v.linearFramebuffer.ioWrite(offset: 0x2_0010, size: 8, value: 0x0807_0605_0403_0201)
        vbeWrite(v, 5, 2)
        XCTAssertEqual(peek(v, 0xA0010, size: 8), 0x0807_0605_0403_0201)
        poke(v, 0xA0020, 0xAB)
        XCTAssertEqual(v.linearFramebuffer.ioRead(offset: 0x2_0020, size: 1), 0xAB)
        XCTAssertEqual(peek(v, 0xB8000), 0xFF)                    // only the A0000 64K window
        XCTAssertEqual(v.linearFramebuffer.ioRead(offset: UInt64(16 << 20), size: 4), 0xFFFF_FFFF)
        vbeWrite(v, 5, 0xFFFF)                                   // bank masked to memory size
        XCTAssertEqual(vbeRead(v, 5), 255)
        // 8-bit DAC while enabled.
        vbeWrite(v, 4, 0x61)
        outb(v, 0x3C8, 1)
        for c: UInt8 in [0xFF, 0x80, 0x40] { outb(v, 0x3C9, c) }
        XCTAssertEqual(v.dacColor(1).red, 0xFF)
        // Disable: back to VGA text.
        vbeWrite(v, 4, 0)
        XCTAssertTrue(v.isTextMode)
        XCTAssertNil(v.vbeMode)
        XCTAssertEqual(vbeRead(v, 5), 0)
        // Invalid modes are clamped to something that fits.
        let small = VGA(vramSize: 1 << 18)
        for (i, x) in [(3, 7), (1, 0xFFFF), (2, 0xFFFF), (4, 0x01)] as [(UInt16, UInt16)] { vbeWrite(small, i, x) }
        let s = small.vbeMode!
        XCTAssertEqual(s.bpp, 8)
        XCTAssertLessThanOrEqual(s.width, 2560)
        XCTAssertLessThanOrEqual(s.bytesPerLine * s.height, 1 << 18)
    }

    // MARK: Snapshots and robustness

    func testStateSaveRestore() {
        let v = VGA()
        putText(v, row: 3, column: 1, "snapshot", attribute: 0x2E)
        crtc(v, 0x0E, 0x01); crtc(v, 0x0F, 0x00)
        outb(v, 0x3C8, 3); outb(v, 0x3C9, 9)                      // mid-sequence DAC write
        outb(v, 0x3C0, 0x10)                                     // attribute flip-flop at data
        let saved = v.state
        let lines = v.textLines()
        v.reset()
        XCTAssertNotEqual(v.state, saved)
        XCTAssertEqual(v.state, VGA().state)
        XCTAssertTrue(v.restore(saved))
        XCTAssertEqual(v.state, saved)
        XCTAssertEqual(v.textLines(), lines)
        XCTAssertEqual(v.cursorPosition?.row, 3)
        // Continues exactly where it was.
        outb(v, 0x3C9, 8); outb(v, 0x3C9, 7)
        XCTAssertEqual(v.dacColor(3).red, 9)
        outb(v, 0x3C0, 0x08)
        XCTAssertEqual(v.state.attribute[0x10], 0x08)
        // Snapshots of another size or malformed ones are refused.
        XCTAssertFalse(VGA(vramSize: 1 << 18).restore(saved))
        var bad = saved
        bad.crtc = [1, 2, 3]
        XCTAssertFalse(v.restore(bad))
        XCTAssertEqual(v.state.crtc.count, 0x19)
    }

    func testAccessesPastTheEndAndOddSizes() {
        let v = VGA()
        XCTAssertEqual(v.ports.ioRead(offset: 0x2F, size: 2), 0xFFFF)
        XCTAssertEqual(v.ports.ioRead(offset: 0x30, size: 1), 0xFF)
        XCTAssertEqual(v.ports.ioRead(offset: ~0, size: 4), 0xFFFF_FFFF)
        v.ports.ioWrite(offset: ~0, size: 8, value: ~0)
        XCTAssertEqual(v.memoryWindow.ioRead(offset: 0x1FFFF, size: 2) >> 8, 0xFF)
        XCTAssertEqual(v.memoryWindow.ioRead(offset: 0x20000, size: 1), 0xFF)
        XCTAssertEqual(v.memoryWindow.ioRead(offset: ~0, size: 8), ~0)
        v.memoryWindow.ioWrite(offset: ~0 - 3, size: 8, value: 0)
        _ = v.memoryWindow.ioRead(offset: 0x18000, size: 0)
        _ = v.memoryWindow.ioRead(offset: 0x18000, size: 3)
        XCTAssertEqual(v.vbePorts.ioRead(offset: 2, size: 2), 0xFFFF)
        XCTAssertEqual(v.vbePorts.ioRead(offset: 0, size: 1), 0)
        XCTAssertEqual(v.linearFramebuffer.ioRead(offset: ~0, size: 2), 0xFFFF)
    }

    /// SplitMix64: deterministic pseudo-random numbers.
    struct RNG {
        var s: UInt64
        mutating func next() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    func testRandomHammeringNeverCrashes() {
        let sizes = [1, 2, 4, 8, 1, 1, 2, 0, 3, 16]
        for (seed, vram) in [(UInt64(1), 1 << 18), (2, 1 << 20), (3, 16 << 20)] {
            let v = VGA(vramSize: vram)
            var r = RNG(s: seed)
            for i in 0..<60_000 {
                let size = sizes[r.below(sizes.count)]
                let value = r.next()
                switch r.below(10) {
                case 0, 1, 2:
                    let off = UInt64(r.below(0x34))
                    if r.below(2) == 0 { v.ports.ioWrite(offset: off, size: size, value: value) }
                    else { _ = v.ports.ioRead(offset: off, size: size) }
                case 3, 4, 5, 6:
                    let off = UInt64(r.below(0x20008))
                    if r.below(2) == 0 { v.memoryWindow.ioWrite(offset: off, size: size, value: value) }
                    else { _ = v.memoryWindow.ioRead(offset: off, size: size) }
                case 7:
                    // Mostly real indexes, so the VBE gets enabled with odd modes now and then.
                    let index = r.below(4) == 0 ? value : UInt64(r.below(12))
                    v.vbePorts.ioWrite(offset: 0, size: 2, value: index)
                    if r.below(2) == 0 { v.vbePorts.ioWrite(offset: 1, size: size, value: value) }
                    else { _ = v.vbePorts.ioRead(offset: UInt64(r.below(3)), size: size) }
                case 8:
                    let off = r.below(8) == 0 ? r.next() : UInt64(r.below(vram + 16))
                    if r.below(2) == 0 { v.linearFramebuffer.ioWrite(offset: off, size: size, value: value) }
                    else { _ = v.linearFramebuffer.ioRead(offset: off, size: size) }
                default:
                    if i % 97 == 0 {
                        _ = v.textLines()
                        _ = v.cursorPosition
                        _ = v.vbeMode
                        _ = v.textCell(row: r.below(100) - 10, column: r.below(300) - 10)
                        _ = v.dacColor(UInt8(truncatingIfNeeded: value))
                    }
                }
            }
            if let m = v.vbeMode {
                XCTAssertLessThanOrEqual(m.offset + m.bytesPerLine * (m.height - 1), vram)
            }
            _ = v.textLines()
            XCTAssertTrue(v.restore(v.state))
        }
    }
}
