import CPU

/// A standard IBM VGA (register level, as described by the IBM VGA technical reference and
/// FreeVGA; guests are tested against QEMU's stdvga and Bochs) plus the Bochs VBE "dispi"
/// extension that SeaBIOS's vgabios-stdvga.bin and Linux's bochs-drm drive.
///
/// The device has four guest-visible faces, each an `IODevice` seeing offsets into its range:
///
///     try memory.mapMMIO(at: 0xA0000, size: 0x20000, name: "vga", device: vga.memoryWindow)
///     try ports.register(vga.ports, base: 0x3B0, count: 48, name: "vga")
///     try ports.register(vga.vbePorts, base: 0x1CE, count: 2, name: "vbe dispi")
///     try memory.mapMMIO(at: lfbBase, size: UInt64(vga.vramSize), name: "vga lfb",
///                        device: vga.linearFramebuffer)        // PCI BAR 0 of a 1234:1111
///
/// Video memory: `vramSize` bytes (default 16 MiB). The first 256 KiB are the four VGA planes,
/// plane p at bytes p*64Ki ..< (p+1)*64Ki; the linear framebuffer and the VBE banked window see
/// the whole of it linearly (so plane 0 is also the first 64 KiB of the framebuffer).
///
/// Memory window (0xA0000-0xBFFFF, offsets 0..0x1FFFF). GR6 bits 3-2 select the part that
/// decodes: 00 = A0000 128K, 01 = A0000 64K, 10 = B0000 32K, 11 = B8000 32K; outside it reads
/// give 0xFF and writes are dropped. Within the map, the address A (offset from the map's start)
/// goes to the planes as on the VGA:
/// - chain-4 (SR4 bit 3): plane A & 3, plane offset A & 0xFFFC (mode 13h);
/// - otherwise the plane offset is A & 0xFFFF, or with chain odd/even (GR6 bit 1) A with bit 0
///   replaced by A16 (so text cell n at B8000+2n sits at plane offset 2n: character in plane 0,
///   attribute in plane 1); writes go to the planes of the map mask (SR2), restricted to
///   planes 0/2 for even and 1/3 for odd addresses when odd/even writes are on (SR4 bit 2 = 0);
///   reads take the plane of the read map select (GR4), or with odd/even reads (GR5 bit 4)
///   GR4 bit 1 with A bit 0.
/// Every read loads the four latches from the plane offset. Writes go through write modes 0-3
/// (data rotate, set/reset, enable set/reset, logical function, bit mask; mode 1 copies the
/// latches); reads use read mode 0 (one plane) or 1 (colour compare with colour don't care).
/// 2-, 4- and 8-byte accesses are split into bytes (little-endian).
///
/// Ports (offset = port - 0x3B0): 0x3C0 attribute index/data flip-flop (read: index with the
/// palette address source bit 5), 0x3C1 attribute data read (a write there acts as a 0x3C0
/// write, so `out dx, ax` to 0x3C0 writes index then data), 0x3C2 misc output write / input
/// status 0 read, 0x3C3 video subsystem enable, 0x3C4/0x3C5 sequencer, 0x3C6 DAC pixel mask,
/// 0x3C7 DAC read index (read: DAC state, 0 = write mode, 3 = read mode), 0x3C8 DAC write index,
/// 0x3C9 DAC data (three 6-bit components per entry; 8 bits when the VBE 8-bit DAC bit is set),
/// 0x3CA feature control read, 0x3CC misc output read, 0x3CE/0x3CF graphics controller; the
/// CRTC index/data and input status 1 (read) / feature control (write) at 0x3D4/0x3D5/0x3DA
/// when misc output bit 0 is 1, else at 0x3B4/0x3B5/0x3BA; the other range is dead (reads 0xFF).
/// Reading input status 1 resets the attribute flip-flop to "index" and steps a 4-read cycle
/// (display, horizontal blank, vertical retrace, horizontal blank) so retrace polling loops
/// finish. CRTC registers 0-7 are write-protected when CR11 bit 7 is set (except CR7 bit 4).
/// Palette registers (attribute 0-15) take writes only while the palette address source bit is
/// 0, as on the VGA. Multi-byte port accesses are split into bytes at consecutive ports.
///
/// VBE dispi (ports 0x1CE index / 0x1CF data, 16-bit): ID (0xB0C0-0xB0C5 accepted, power-on
/// 0xB0C5), XRES, YRES, BPP (4/8/15/16/24/32), ENABLE (0x01 enabled, 0x02 get capabilities:
/// XRES/YRES/BPP then read the maxima, 0x20 8-bit DAC, 0x40 LFB, 0x80 keep memory), BANK (64 KiB
/// units, the A0000 64K window while enabled at more than 4 bpp), VIRT_WIDTH, VIRT_HEIGHT
/// (computed: how many lines fit in video memory), X_OFFSET, Y_OFFSET, VIDEO_MEMORY_64K (read
/// only). XRES/YRES/BPP are frozen while enabled (as Bochs); enabling resets the virtual size to
/// the mode and clears the visible memory unless bit 0x80 is set. Values are clamped so a mode
/// always fits in video memory.
///
/// Not modelled: display timing (clocks, sync, the real retrace period), the misc output RAM
/// enable bit and odd/even page bit, split screen/panning/blink in the helpers, light pen,
/// input status 0 switch sense and retrace interrupt (read 0), VBE 4-bpp mode details beyond
/// routing the window through the planar logic, the QEMU extended MMIO BAR (0x400/0x500).
/// No font is built in: plane 2 holds whatever the guest or its BIOS loads.
public final class VGA {
    // MARK: Datasheet constants

    /// Port offsets from 0x3B0.
    public enum Port {
        public static let crtcIndexMono = 0x04, crtcDataMono = 0x05, status1Mono = 0x0A
        public static let attributeIndex = 0x10, attributeData = 0x11
        public static let miscWriteStatus0 = 0x12, videoEnable = 0x13
        public static let sequencerIndex = 0x14, sequencerData = 0x15
        public static let dacMask = 0x16, dacReadIndex = 0x17, dacWriteIndex = 0x18, dacData = 0x19
        public static let featureRead = 0x1A, miscRead = 0x1C
        public static let graphicsIndex = 0x1E, graphicsData = 0x1F
        public static let crtcIndexColor = 0x24, crtcDataColor = 0x25, status1Color = 0x2A
        public static let count = 0x30
    }
    /// Sequencer registers (SR0-SR4).
    public enum Seq {
        public static let reset = 0, clockingMode = 1, mapMask = 2, characterMap = 3, memoryMode = 4
        /// SR4 bits.
        public static let extendedMemory: UInt8 = 0x02, oddEvenDisable: UInt8 = 0x04, chain4: UInt8 = 0x08
        static let writeMask: [UInt8] = [0x03, 0x3D, 0x0F, 0x3F, 0x0E, 0x00, 0x00, 0x00]
    }
    /// Graphics controller registers (GR0-GR8).
    public enum Gfx {
        public static let setReset = 0, enableSetReset = 1, colorCompare = 2, dataRotate = 3
        public static let readMapSelect = 4, mode = 5, misc = 6, colorDontCare = 7, bitMask = 8
        /// GR5 bits.
        public static let readMode1: UInt8 = 0x08, hostOddEven: UInt8 = 0x10
        /// GR6 bits.
        public static let graphicsMode: UInt8 = 0x01, chainOddEven: UInt8 = 0x02
        static let writeMask: [UInt8] = [0x0F, 0x0F, 0x0F, 0x1F, 0x03, 0x7B, 0x0F, 0x0F, 0xFF,
                                         0, 0, 0, 0, 0, 0, 0]
    }
    /// Attribute controller registers (AR0-AR14).
    public enum Attr {
        public static let mode = 0x10, overscan = 0x11, colorPlaneEnable = 0x12
        public static let horizontalPanning = 0x13, colorSelect = 0x14
        public static let count = 0x15
        /// Bit 5 of the index: palette address source (1 = the display uses the palette).
        public static let paletteAddressSource: UInt8 = 0x20
        static let writeMask: [UInt8] = [UInt8](repeating: 0x3F, count: 16) + [0xEF, 0xFF, 0x3F, 0x0F, 0x0F]
    }
    /// CRT controller registers (CR00-CR18).
    public enum CRTC {
        public static let horizontalDisplayEnd = 0x01, overflow = 0x07, maxScanLine = 0x09
        public static let cursorStart = 0x0A, cursorEnd = 0x0B, startHigh = 0x0C, startLow = 0x0D
        public static let cursorHigh = 0x0E, cursorLow = 0x0F, verticalRetraceEnd = 0x11
        public static let verticalDisplayEnd = 0x12, offset = 0x13, underline = 0x14, mode = 0x17
        public static let count = 0x19
        /// CR11 bit 7: registers 0-7 are write-protected.
        public static let protect: UInt8 = 0x80
        /// CR0A bit 5: cursor off.
        public static let cursorDisable: UInt8 = 0x20
    }
    /// Input status 1 bits.
    public enum Status1 {
        public static let displayDisabled: UInt8 = 0x01, verticalRetrace: UInt8 = 0x08
        /// The states successive reads step through.
        static let cycle: [UInt8] = [0x00, displayDisabled, displayDisabled | verticalRetrace, displayDisabled]
    }
    /// Bochs VBE dispi registers (index at 0x1CE, data at 0x1CF).
    public enum VBE {
        public static let id = 0, xres = 1, yres = 2, bpp = 3, enable = 4, bank = 5
        public static let virtWidth = 6, virtHeight = 7, xOffset = 8, yOffset = 9, videoMemory64K = 10
        public static let count = 10
        public static let id0: UInt16 = 0xB0C0, id5: UInt16 = 0xB0C5
        /// ENABLE bits.
        public static let enabled: UInt16 = 0x01, getCaps: UInt16 = 0x02, dac8Bit: UInt16 = 0x20
        public static let lfbEnabled: UInt16 = 0x40, noClearMem: UInt16 = 0x80
        public static let maxXRes = 2560, maxYRes = 1600, maxBPP = 32
        static let validBPP: Set<Int> = [4, 8, 15, 16, 24, 32]
    }

    public static let planeSize = 0x10000
    public static let windowSize = 0x20000

    /// Mode 3 (80x25 colour text, 720x400) register values as the VGA BIOS loads them.
    static let mode3Misc: UInt8 = 0x67
    static let mode3Seq: [UInt8] = [0x03, 0x00, 0x03, 0x00, 0x02, 0x00, 0x00, 0x00]
    static let mode3CRTC: [UInt8] = [0x5F, 0x4F, 0x50, 0x82, 0x55, 0x81, 0xBF, 0x1F, 0x00, 0x4F, 0x0D,
                                     0x0E, 0x00, 0x00, 0x00, 0x00, 0x9C, 0x8E, 0x8F, 0x28, 0x1F, 0x96,
                                     0xB9, 0xA3, 0xFF]
    static let mode3Gfx: [UInt8] = [0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0E, 0x0F, 0xFF,
                                    0, 0, 0, 0, 0, 0, 0]
    static let mode3Attr: [UInt8] = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3A,
                                     0x3B, 0x3C, 0x3D, 0x3E, 0x3F, 0x0C, 0x00, 0x0F, 0x08, 0x00]
    /// The EGA-compatible 64-colour DAC palette (6-bit rgbRGB index: bits 2/1/0 = 2/3 intensity
    /// red/green/blue, bits 5/4/3 = 1/3 intensity), entries 64-255 black.
    static let egaPalette: [UInt8] = {
        var p = [UInt8](repeating: 0, count: 768)
        for i in 0..<64 {
            func level(_ hi: Int, _ lo: Int) -> UInt8 {
                let twoThirds: Int = (i >> hi) & 1
                let oneThird: Int = (i >> lo) & 1
                return UInt8(0x2A * twoThirds + 0x15 * oneThird)
            }
            p[i * 3] = level(2, 5)
            p[i * 3 + 1] = level(1, 4)
            p[i * 3 + 2] = level(0, 3)
        }
        return p
    }()

    // MARK: State

    public struct State: Sendable, Equatable {
        public var miscOutput: UInt8 = VGA.mode3Misc
        public var featureControl: UInt8 = 0
        public var videoEnable: UInt8 = 1
        public var sequencerIndex: UInt8 = 0
        public var sequencer: [UInt8] = VGA.mode3Seq
        public var graphicsIndex: UInt8 = 0
        public var graphics: [UInt8] = VGA.mode3Gfx
        /// Attribute index register: bits 4-0 index, bit 5 palette address source.
        public var attributeIndex: UInt8 = Attr.paletteAddressSource
        /// The next 0x3C0 write is data (false: index).
        public var attributeFlipFlop = false
        public var attribute: [UInt8] = VGA.mode3Attr
        public var crtcIndex: UInt8 = 0
        public var crtc: [UInt8] = VGA.mode3CRTC
        public var dacPixelMask: UInt8 = 0xFF
        public var dacReadIndex: UInt8 = 0
        public var dacWriteIndex: UInt8 = 0
        /// Component (0 red, 1 green, 2 blue) of the next DAC data access.
        public var dacComponent: UInt8 = 0
        /// Last DAC address write was to 0x3C7 (read mode).
        public var dacReadMode = false
        /// Components of a partly written DAC entry.
        public var dacPending: [UInt8] = [0, 0, 0]
        /// 256 entries x (red, green, blue).
        public var dacPalette: [UInt8] = VGA.egaPalette
        public var latches: [UInt8] = [0, 0, 0, 0]
        /// Step in the input status 1 cycle.
        public var statusPhase: UInt8 = 0
        public var vbeIndex: UInt16 = 0
        /// VBE registers 0-9.
        public var vbe: [UInt16] = [VBE.id5, 640, 480, 8, 0, 0, 640, 480, 0, 0]
        public var vram: [UInt8]

        public init(vramSize: Int = VGA.defaultVRAMSize) {
            vram = [UInt8](repeating: 0, count: max(vramSize, 0))
            // A blank screen: spaces, light grey on black, in the 16 Ki text cells.
            for cell in 0..<(0x8000 / 2) where vram.count >= 2 * VGA.planeSize {
                vram[cell * 2] = 0x20
                vram[VGA.planeSize + cell * 2] = 0x07
            }
        }
    }

    public static let defaultVRAMSize = 16 << 20

    public private(set) var state: State
    /// Bytes of video memory (a power of two, at least 256 KiB).
    public let vramSize: Int
    /// Accesses to ports in 0x3B0-0x3DF that no register answers (reads gave 0xFF).
    public private(set) var unknownAccesses: UInt64 = 0

    /// - Parameter vramSize: video memory, rounded down to a power of two in 256 KiB ... 256 MiB.
    public init(vramSize: Int = VGA.defaultVRAMSize) {
        var size = 1 << 18
        while size < (1 << 28) && size * 2 <= vramSize { size *= 2 }
        self.vramSize = size
        state = State(vramSize: size)
    }

    /// Power-on state: mode 3 registers, EGA palette, blank text screen, VBE off.
    public func reset() {
        state = State(vramSize: vramSize)
    }

    /// Restores a snapshot; one from a device with a different video memory size or with
    /// malformed register arrays is refused (returns false).
    @discardableResult
    public func restore(_ s: State) -> Bool {
        guard s.vram.count == vramSize, s.sequencer.count == 8, s.graphics.count == 16,
              s.attribute.count == Attr.count, s.crtc.count == CRTC.count, s.dacPending.count == 3,
              s.dacPalette.count == 768, s.latches.count == 4, s.vbe.count == VBE.count else { return false }
        state = s
        state.sequencerIndex &= 7
        state.graphicsIndex &= 0x0F
        state.attributeIndex &= 0x3F
        state.dacComponent %= 3
        state.statusPhase &= 3
        vbeFixup()
        return true
    }

    // MARK: Guest-visible faces

    /// The legacy window 0xA0000-0xBFFFF (offsets 0..0x1FFFF).
    public var memoryWindow: IODevice { View(self, .window) }
    /// Ports 0x3B0-0x3DF (offset = port - 0x3B0).
    public var ports: IODevice { View(self, .ports) }
    /// Bochs VBE dispi ports 0x1CE (offset 0, index) and 0x1CF (offset 1, data).
    public var vbePorts: IODevice { View(self, .vbe) }
    /// The linear framebuffer: all of video memory, `vramSize` bytes.
    public var linearFramebuffer: IODevice { View(self, .lfb) }

    final class View: IODevice {
        enum Kind { case window, ports, vbe, lfb }
        let vga: VGA
        let kind: Kind
        init(_ vga: VGA, _ kind: Kind) { self.vga = vga; self.kind = kind }

        func ioRead(offset: UInt64, size: Int) -> UInt64 {
            switch kind {
            case .vbe: return vga.vbeRead(offset: offset, size: size)
            case .window, .ports, .lfb:
                let n = VGA.accessBytes(size)
                var v: UInt64 = 0
                for i in 0..<n {
                    let b: UInt8
                    let (o, overflow) = offset.addingReportingOverflow(UInt64(i))
                    if overflow { b = 0xFF }
                    else if kind == .window { b = o < UInt64(VGA.windowSize) ? vga.windowRead(Int(o)) : 0xFF }
                    else if kind == .ports { b = vga.portRead(o) }
                    else { b = o < UInt64(vga.vramSize) ? vga.state.vram[Int(o)] : 0xFF }
                    v |= UInt64(b) << (8 * UInt64(i))
                }
                return v
            }
        }

        func ioWrite(offset: UInt64, size: Int, value: UInt64) {
            switch kind {
            case .vbe: vga.vbeWrite(offset: offset, size: size, value: value)
            case .window, .ports, .lfb:
                let n = VGA.accessBytes(size)
                for i in 0..<n {
                    let b = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))
                    let (o, overflow) = offset.addingReportingOverflow(UInt64(i))
                    if overflow { break }
                    if kind == .window { if o < UInt64(VGA.windowSize) { vga.windowWrite(Int(o), b) } }
                    else if kind == .ports { vga.portWrite(o, b) }
                    else if o < UInt64(vga.vramSize) { vga.state.vram[Int(o)] = b }
                }
            }
        }
    }

    /// Bytes an access of `size` covers (1, 2, 4 or 8; anything else is treated as 1..8).
    static func accessBytes(_ size: Int) -> Int { min(max(size, 1), 8) }

    // MARK: Video memory

    /// The VBE banked window replaces the planar logic (enabled at more than 4 bpp).
    var vbeLinearWindow: Bool {
        state.vbe[VBE.enable] & VBE.enabled != 0 && Int(state.vbe[VBE.bpp]) != 4
    }

    /// Address within the memory map GR6 selects, or nil when `off` lies outside it.
    @inline(__always) func mapAddress(_ off: Int) -> Int? {
        switch (state.graphics[Gfx.misc] >> 2) & 3 {
        case 0: return off
        case 1: return off < 0x10000 ? off : nil
        case 2: return off >= 0x10000 && off < 0x18000 ? off - 0x10000 : nil
        default: return off >= 0x18000 ? off - 0x18000 : nil
        }
    }

    /// Plane offset for map address `a`.
    @inline(__always) func planeOffset(_ a: Int) -> Int {
        if state.sequencer[Seq.memoryMode] & Seq.chain4 != 0 { return a & 0xFFFC }
        if state.graphics[Gfx.misc] & Gfx.chainOddEven != 0 { return (a & 0xFFFE) | ((a >> 16) & 1) }
        return a & 0xFFFF
    }

    func windowRead(_ off: Int) -> UInt8 {
        if vbeLinearWindow {
            guard off < 0x10000 else { return 0xFF }
            let i = Int(state.vbe[VBE.bank]) * 0x10000 + off
            return i < vramSize ? state.vram[i] : 0xFF
        }
        guard let a = mapAddress(off) else { return 0xFF }
        let o = planeOffset(a)
        for p in 0..<4 { state.latches[p] = state.vram[p * VGA.planeSize + o] }
        let gr = state.graphics
        if gr[Gfx.mode] & Gfx.readMode1 == 0 {
            let plane: Int
            if state.sequencer[Seq.memoryMode] & Seq.chain4 != 0 { plane = a & 3 }
            else if gr[Gfx.mode] & Gfx.hostOddEven != 0 { plane = Int(gr[Gfx.readMapSelect] & 2) | (a & 1) }
            else { plane = Int(gr[Gfx.readMapSelect] & 3) }
            return state.latches[plane]
        }
        // Read mode 1: bit set where every plane selected by "colour don't care" matches the
        // colour compare value.
        var differ: UInt8 = 0
        for p in 0..<4 where gr[Gfx.colorDontCare] & (1 << p) != 0 {
            let want: UInt8 = gr[Gfx.colorCompare] & (1 << p) != 0 ? 0xFF : 0x00
            differ |= state.latches[p] ^ want
        }
        return ~differ
    }

    func windowWrite(_ off: Int, _ v: UInt8) {
        if vbeLinearWindow {
            guard off < 0x10000 else { return }
            let i = Int(state.vbe[VBE.bank]) * 0x10000 + off
            if i < vramSize { state.vram[i] = v }
            return
        }
        guard let a = mapAddress(off) else { return }
        let sr4 = state.sequencer[Seq.memoryMode]
        var planes = state.sequencer[Seq.mapMask] & 0x0F
        if sr4 & Seq.chain4 != 0 {
            planes &= 1 << (a & 3)
        } else if sr4 & Seq.oddEvenDisable == 0 {
            planes &= a & 1 != 0 ? 0x0A : 0x05
        }
        guard planes != 0 else { return }
        let o = planeOffset(a)
        let gr = state.graphics
        let rotate = gr[Gfx.dataRotate] & 7
        let rotated = rotate == 0 ? v : (v >> rotate) | (v << (8 - rotate))
        let function = (gr[Gfx.dataRotate] >> 3) & 3
        let writeMode = gr[Gfx.mode] & 3
        let mask = writeMode == 3 ? gr[Gfx.bitMask] & rotated : gr[Gfx.bitMask]
        for p in 0..<4 where planes & (1 << p) != 0 {
            let bit = UInt8(1 << p)
            let latch = state.latches[p]
            var d: UInt8
            switch writeMode {
            case 0:
                d = gr[Gfx.enableSetReset] & bit != 0 ? (gr[Gfx.setReset] & bit != 0 ? 0xFF : 0) : rotated
            case 1:
                state.vram[p * VGA.planeSize + o] = latch
                continue
            case 2:
                d = v & bit != 0 ? 0xFF : 0
            default:
                d = gr[Gfx.setReset] & bit != 0 ? 0xFF : 0
            }
            switch function {
            case 1: d &= latch
            case 2: d |= latch
            case 3: d ^= latch
            default: break
            }
            state.vram[p * VGA.planeSize + o] = (d & mask) | (latch & ~mask)
        }
    }

    // MARK: Ports

    /// CRTC and input status 1 answer in the 0x3Dx range (misc output bit 0 = 1) or 0x3Bx.
    var colorMode: Bool { state.miscOutput & 0x01 != 0 }

    func portRead(_ offset: UInt64) -> UInt8 {
        guard offset < UInt64(Port.count) else { unknownAccesses &+= 1; return 0xFF }
        let off = Int(offset)
        switch off {
        case Port.crtcIndexMono where !colorMode, Port.crtcIndexColor where colorMode:
            return state.crtcIndex
        case Port.crtcDataMono where !colorMode, Port.crtcDataColor where colorMode:
            let i = Int(state.crtcIndex)
            return i < CRTC.count ? state.crtc[i] : 0xFF
        case Port.status1Mono where !colorMode, Port.status1Color where colorMode:
            state.attributeFlipFlop = false
            let v = Status1.cycle[Int(state.statusPhase & 3)]
            state.statusPhase = (state.statusPhase &+ 1) & 3
            return v
        case Port.attributeIndex:
            return state.attributeIndex
        case Port.attributeData:
            let i = Int(state.attributeIndex & 0x1F)
            return i < Attr.count ? state.attribute[i] : 0
        case Port.miscWriteStatus0:
            return 0
        case Port.videoEnable:
            return state.videoEnable
        case Port.sequencerIndex:
            return state.sequencerIndex
        case Port.sequencerData:
            return state.sequencer[Int(state.sequencerIndex & 7)]
        case Port.dacMask:
            return state.dacPixelMask
        case Port.dacReadIndex:
            return state.dacReadMode ? 0x03 : 0x00
        case Port.dacWriteIndex:
            return state.dacWriteIndex
        case Port.dacData:
            let v = state.dacPalette[Int(state.dacReadIndex) * 3 + Int(state.dacComponent)]
            state.dacComponent += 1
            if state.dacComponent == 3 {
                state.dacComponent = 0
                state.dacReadIndex &+= 1
            }
            return v
        case Port.featureRead:
            return state.featureControl
        case Port.miscRead:
            return state.miscOutput
        case Port.graphicsIndex:
            return state.graphicsIndex
        case Port.graphicsData:
            return state.graphics[Int(state.graphicsIndex & 0x0F)]
        default:
            unknownAccesses &+= 1
            return 0xFF
        }
    }

    func portWrite(_ offset: UInt64, _ v: UInt8) {
        guard offset < UInt64(Port.count) else { unknownAccesses &+= 1; return }
        let off = Int(offset)
        switch off {
        case Port.crtcIndexMono where !colorMode, Port.crtcIndexColor where colorMode:
            state.crtcIndex = v
        case Port.crtcDataMono where !colorMode, Port.crtcDataColor where colorMode:
            writeCRTC(Int(state.crtcIndex), v)
        case Port.status1Mono where !colorMode, Port.status1Color where colorMode:
            state.featureControl = v & 0x03
        case Port.attributeIndex, Port.attributeData:
            if !state.attributeFlipFlop {
                state.attributeIndex = v & 0x3F
            } else {
                let i = Int(state.attributeIndex & 0x1F)
                let paletteLocked = i < 16 && state.attributeIndex & Attr.paletteAddressSource != 0
                if i < Attr.count && !paletteLocked { state.attribute[i] = v & Attr.writeMask[i] }
            }
            state.attributeFlipFlop.toggle()
        case Port.miscWriteStatus0:
            state.miscOutput = v
        case Port.videoEnable:
            state.videoEnable = v & 0x01
        case Port.sequencerIndex:
            state.sequencerIndex = v & 7
        case Port.sequencerData:
            let i = Int(state.sequencerIndex & 7)
            state.sequencer[i] = v & Seq.writeMask[i]
        case Port.dacMask:
            state.dacPixelMask = v
        case Port.dacReadIndex:
            state.dacReadIndex = v
            state.dacComponent = 0
            state.dacReadMode = true
        case Port.dacWriteIndex:
            state.dacWriteIndex = v
            state.dacComponent = 0
            state.dacReadMode = false
        case Port.dacData:
            let dac8 = state.vbe[VBE.enable] & VBE.dac8Bit != 0
            state.dacPending[Int(state.dacComponent)] = dac8 ? v : v & 0x3F
            state.dacComponent += 1
            if state.dacComponent == 3 {
                let base = Int(state.dacWriteIndex) * 3
                for c in 0..<3 { state.dacPalette[base + c] = state.dacPending[c] }
                state.dacComponent = 0
                state.dacWriteIndex &+= 1
            }
        case Port.graphicsIndex:
            state.graphicsIndex = v & 0x0F
        case Port.graphicsData:
            let i = Int(state.graphicsIndex & 0x0F)
            state.graphics[i] = v & Gfx.writeMask[i]
        default:
            unknownAccesses &+= 1
        }
    }

    func writeCRTC(_ i: Int, _ v: UInt8) {
        guard i < CRTC.count else { return }
        if i <= CRTC.overflow && state.crtc[CRTC.verticalRetraceEnd] & CRTC.protect != 0 {
            // Protected: only the line compare bit 8 in the overflow register stays writable.
            if i == CRTC.overflow { state.crtc[i] = (state.crtc[i] & ~0x10) | (v & 0x10) }
            return
        }
        state.crtc[i] = v
    }

    // MARK: Bochs VBE dispi

    func vbeRead(offset: UInt64, size: Int) -> UInt64 {
        let mask: UInt64 = size == 1 ? 0xFF : 0xFFFF
        switch offset {
        case 0: return UInt64(state.vbeIndex) & mask
        case 1: return UInt64(vbeRegister(Int(state.vbeIndex))) & mask
        default: return size >= 8 ? ~0 : (1 << (8 * UInt64(VGA.accessBytes(size)))) - 1
        }
    }

    func vbeRegister(_ i: Int) -> UInt16 {
        let caps = state.vbe[VBE.enable] & VBE.getCaps != 0
        switch i {
        case VBE.xres where caps: return UInt16(VBE.maxXRes)
        case VBE.yres where caps: return UInt16(VBE.maxYRes)
        case VBE.bpp where caps: return UInt16(VBE.maxBPP)
        case 0..<VBE.count: return state.vbe[i]
        case VBE.videoMemory64K: return UInt16(truncatingIfNeeded: vramSize >> 16)
        default: return 0
        }
    }

    func vbeWrite(offset: UInt64, size: Int, value: UInt64) {
        let v = UInt16(truncatingIfNeeded: value) & (size == 1 ? 0xFF : 0xFFFF)
        switch offset {
        case 0: state.vbeIndex = v
        case 1: writeVBERegister(Int(state.vbeIndex), v)
        default: break
        }
    }

    var vbeEnabledBit: Bool { state.vbe[VBE.enable] & VBE.enabled != 0 }

    func writeVBERegister(_ i: Int, _ v: UInt16) {
        switch i {
        case VBE.id:
            if v >= VBE.id0 && v <= VBE.id5 { state.vbe[VBE.id] = v }
        case VBE.xres, VBE.yres, VBE.bpp:
            if !vbeEnabledBit { state.vbe[i] = v }
        case VBE.bank:
            state.vbe[VBE.bank] = v & UInt16(truncatingIfNeeded: (vramSize >> 16) - 1)
        case VBE.virtWidth, VBE.virtHeight, VBE.xOffset, VBE.yOffset:
            state.vbe[i] = v
            if vbeEnabledBit { vbeFixup() }
        case VBE.enable:
            let wasEnabled = vbeEnabledBit
            state.vbe[VBE.enable] = v & (VBE.enabled | VBE.getCaps | VBE.dac8Bit | VBE.lfbEnabled | VBE.noClearMem)
            if v & VBE.enabled != 0 && !wasEnabled {
                state.vbe[VBE.virtWidth] = state.vbe[VBE.xres]
                state.vbe[VBE.xOffset] = 0
                state.vbe[VBE.yOffset] = 0
                vbeFixup()
                if v & VBE.noClearMem == 0 {
                    let end = min(vramSize, vbeBytesPerLine * Int(state.vbe[VBE.yres]))
                    state.vram.withUnsafeMutableBufferPointer {
                        UnsafeMutableBufferPointer(rebasing: $0[0..<end]).update(repeating: 0)
                    }
                }
            } else if v & VBE.enabled == 0 {
                state.vbe[VBE.bank] = 0
            }
        default:
            break
        }
    }

    static func bytesPerLine(width: Int, bpp: Int) -> Int { bpp == 4 ? width / 2 : width * ((bpp + 7) / 8) }

    var vbeBytesPerLine: Int {
        VGA.bytesPerLine(width: Int(state.vbe[VBE.virtWidth]), bpp: Int(state.vbe[VBE.bpp]))
    }

    /// Makes the VBE registers describe a mode that fits in video memory (only while enabled).
    func vbeFixup() {
        guard vbeEnabledBit else { return }
        var bpp = Int(state.vbe[VBE.bpp])
        if !VBE.validBPP.contains(bpp) { bpp = 8 }
        var x = Int(state.vbe[VBE.xres]) & ~7
        x = min(max(x, 8), VBE.maxXRes)
        var y = min(max(Int(state.vbe[VBE.yres]), 1), VBE.maxYRes)
        var vw = min(max(Int(state.vbe[VBE.virtWidth]), x), 0xFFF8)
        if VGA.bytesPerLine(width: vw, bpp: bpp) * y > vramSize { vw = x }
        let line = VGA.bytesPerLine(width: vw, bpp: bpp)
        if line * y > vramSize { y = vramSize / line }
        let vh = min(vramSize / line, 0xFFFF)
        let xo = min(Int(state.vbe[VBE.xOffset]), vw - x)
        let yo = min(Int(state.vbe[VBE.yOffset]), vh - y)
        state.vbe[VBE.bpp] = UInt16(bpp)
        state.vbe[VBE.xres] = UInt16(x)
        state.vbe[VBE.yres] = UInt16(y)
        state.vbe[VBE.virtWidth] = UInt16(vw)
        state.vbe[VBE.virtHeight] = UInt16(vh)
        state.vbe[VBE.xOffset] = UInt16(xo)
        state.vbe[VBE.yOffset] = UInt16(yo)
    }

    /// The VBE mode when enabled: visible size, depth, bytes per line and the byte offset of the
    /// top-left visible pixel in video memory.
    public var vbeMode: (width: Int, height: Int, bpp: Int, bytesPerLine: Int, offset: Int)? {
        guard vbeEnabledBit else { return nil }
        let bpp = Int(state.vbe[VBE.bpp])
        let line = vbeBytesPerLine
        let xo = Int(state.vbe[VBE.xOffset])
        let xBytes = bpp == 4 ? xo / 2 : xo * ((bpp + 7) / 8)
        return (Int(state.vbe[VBE.xres]), Int(state.vbe[VBE.yres]), bpp, line,
                Int(state.vbe[VBE.yOffset]) * line + xBytes)
    }

    // MARK: Rendering helpers

    /// Alphanumeric mode (GR6 bit 0 clear) with VBE off.
    public var isTextMode: Bool {
        !vbeEnabledBit && state.graphics[Gfx.misc] & Gfx.graphicsMode == 0
    }

    /// Text columns (CR01 + 1) and rows (vertical display end + 1 over the character height,
    /// doubled when CR09 bit 7 double-scans).
    public var textGeometry: (columns: Int, rows: Int) {
        let cr = state.crtc
        let columns = Int(cr[CRTC.horizontalDisplayEnd]) + 1
        let overflow = Int(cr[CRTC.overflow])
        let lines = (Int(cr[CRTC.verticalDisplayEnd]) | (overflow & 0x02) << 7 | (overflow & 0x40) << 3) + 1
        var height = Int(cr[CRTC.maxScanLine] & 0x1F) + 1
        if cr[CRTC.maxScanLine] & 0x80 != 0 { height *= 2 }
        return (columns, lines / height)
    }

    /// CRTC start address (CR0C:CR0D), in character-clock units.
    public var startAddress: Int {
        Int(state.crtc[CRTC.startHigh]) << 8 | Int(state.crtc[CRTC.startLow])
    }

    /// Memory address counter units between text rows (CR13 x 2).
    var rowStride: Int { Int(state.crtc[CRTC.offset]) * 2 }

    /// Plane offset the CRTC fetches for memory address `ma` (byte, word or doubleword mode).
    func crtcPlaneOffset(_ ma: Int) -> Int {
        let cr = state.crtc
        let m = ma & 0xFFFF
        if cr[CRTC.underline] & 0x40 != 0 { return ((m << 2) | ((m >> 12) & 3)) & 0xFFFF }
        if cr[CRTC.mode] & 0x40 == 0 {
            let low = cr[CRTC.mode] & 0x20 != 0 ? (m >> 15) & 1 : (m >> 13) & 1
            return ((m << 1) | low) & 0xFFFF
        }
        return m
    }

    /// Character (plane 0) and attribute (plane 1) of a text cell on screen, or nil outside it.
    public func textCell(row: Int, column: Int) -> (character: UInt8, attribute: UInt8)? {
        let g = textGeometry
        guard row >= 0, column >= 0, row < g.rows, column < g.columns else { return nil }
        let o = crtcPlaneOffset(startAddress + row * rowStride + column)
        return (state.vram[o], state.vram[VGA.planeSize + o])
    }

    /// The text screen as lines of `columns` characters (printable ASCII as is, other code page
    /// 437 codes as "."). Empty outside text mode.
    public func textLines() -> [String] {
        guard isTextMode else { return [] }
        let g = textGeometry
        guard g.columns > 0, g.rows > 0 else { return [] }
        var lines: [String] = []
        lines.reserveCapacity(g.rows)
        for r in 0..<g.rows {
            var s = String()
            s.reserveCapacity(g.columns)
            for c in 0..<g.columns {
                let ch = state.vram[crtcPlaneOffset(startAddress + r * rowStride + c)]
                s.unicodeScalars.append(ch >= 0x20 && ch < 0x7F ? Unicode.Scalar(ch) : ".")
            }
            lines.append(s)
        }
        return lines
    }

    /// Cursor cell relative to the start address, or nil when CR0A bit 5 turns it off, the
    /// adapter is not in text mode or the cursor lies outside the screen.
    public var cursorPosition: (row: Int, column: Int)? {
        guard isTextMode, state.crtc[CRTC.cursorStart] & CRTC.cursorDisable == 0, rowStride > 0 else { return nil }
        let location = Int(state.crtc[CRTC.cursorHigh]) << 8 | Int(state.crtc[CRTC.cursorLow])
        let delta = (location - startAddress) & 0xFFFF
        let g = textGeometry
        let row = delta / rowStride, column = delta % rowStride
        guard row < g.rows, column < g.columns else { return nil }
        return (row, column)
    }

    /// DAC entry `index` (0-255) as stored: 6-bit components, or 8-bit with the VBE 8-bit DAC.
    public func dacColor(_ index: UInt8) -> (red: UInt8, green: UInt8, blue: UInt8) {
        let b = Int(index) * 3
        return (state.dacPalette[b], state.dacPalette[b + 1], state.dacPalette[b + 2])
    }
}
