import XCTest
import CPU
import DiffTest

/// Integer, string and memory-access behaviour found by the differential tester against the host.
final class DiffRegressionIntegerTests: XCTestCase {
    func testShiftByZeroStillWritesA32BitRegister() {
        var r = UserMode.run([0x45, 0xC1, 0xCD, 0x00]) { $0.gpr[13] = 0x8000_0000_0000_0001 }   // ror r13d, 0
        XCTAssertEqual(r.state.gpr[13], 1)
        r = UserMode.run([0xD3, 0xDD]) { $0.gpr[5] = 0x85E2_F8F5_3B74_6661; $0.gpr[1] = 0x100 }  // rcr ebp, cl
        XCTAssertEqual(r.state.gpr[5], 0x3B74_6661)
        r = UserMode.run([0x0F, 0xA5, 0xC3]) { $0.gpr[3] = 0xFFFF_0000_1234_5678; $0.gpr[1] = 0x20 } // shld ebx, eax, cl
        XCTAssertEqual(r.state.gpr[3], 0x1234_5678)
        r = UserMode.run([0x48, 0xC1, 0xE3, 0x00]) { $0.gpr[3] = 0xFFFF_0000_1234_5678 }       // shl rbx, 0
        XCTAssertEqual(r.state.gpr[3], 0xFFFF_0000_1234_5678)
    }

    func testCmpxchgRegisterDestinationIsNotWrittenOnMismatch() {
        // cmpxchg esi, ebp with eax != esi: EAX <- ESI (zero-extended), RSI keeps bits 63:32.
        let r = UserMode.run([0x40, 0x0F, 0xB1, 0xEE]) {
            $0.gpr[6] = 0x7296_34EB_0000_0015; $0.gpr[0] = 0xFFFF_FFFF_0000_0001
        }
        XCTAssertEqual(r.state.gpr[6], 0x7296_34EB_0000_0015)
        XCTAssertEqual(r.state.gpr[0], 0x15)
    }

    func testXaddWithTheSameRegisterKeepsTheSum() {
        let r = UserMode.run([0x48, 0x0F, 0xC1, 0xDB]) { $0.gpr[3] = 5 }   // xadd rbx, rbx
        XCTAssertEqual(r.state.gpr[3], 10)
    }

    func testPushSegmentRegisterIn64BitModeZeroExtends() {
        let sp = UserMode.scratch + 0x800
        let r = UserMode.run([0x0F, 0xA0]) { s in        // push fs
            s.gpr[4] = sp
            s.mem(sp - 8, 8, 0xAAAA_AAAA_AAAA_AAAA)
        }
        XCTAssertEqual(r.state.mem(sp - 8, 8) >> 16, 0, "bits 63:16 of the pushed value are zero")
    }

    func testReadModifyWriteFaultsAsAWrite() {
        let g = UserMode.guardAbove
        for b: [UInt8] in [[0x01, 0x00],                    // add [rax], eax
                           [0x0F, 0xAB, 0x08],              // bts [rax], ecx
                           [0xF0, 0x0F, 0xC7, 0x08],        // lock cmpxchg8b [rax]
                           [0xD1, 0x20],                    // shl dword [rax], 1
                           [0x0F, 0xC1, 0x00]] {            // xadd [rax], eax
            let r = UserMode.run(b) { $0.gpr[0] = g; $0.gpr[1] = 0 }
            XCTAssertEqual(r.fault?.vector, 14)
            XCTAssertEqual(r.fault?.code, 6, "user write")
            XCTAssertEqual(r.fault?.addr, g)
        }
        XCTAssertEqual(UserMode.run([0x39, 0x00]) { $0.gpr[0] = g }.fault?.code, 4, "cmp reads")
    }

    func testEnterChecksTheNewStackPointer() {
        let sp = UserMode.scratch + 0x100
        let r = UserMode.run([0xC8, 0x00, 0x10, 0x00]) { $0.gpr[4] = sp; $0.gpr[5] = sp }   // enter 0x1000, 0
        XCTAssertEqual(r.fault?.vector, 14)
        XCTAssertEqual(r.fault?.addr, sp - 8 - 0x1000)
        XCTAssertEqual(r.state.gpr[4], sp)
    }

    func testRepStringWith32BitAddressAndZeroCount() {
        let s = UserMode.scratch + 0x400
        func state(_ st: inout DTState) {
            st.gpr[1] = 0x1234_0000_0000_0000
            st.gpr[6] = 0x5555_0000_0000_0000 | s
            st.gpr[7] = 0xAAAA_0000_0000_0000 | s
        }
        var r = UserMode.run([0xF3, 0x67, 0xAA], state)     // rep stosb
        XCTAssertEqual(r.state.gpr[1], 0); XCTAssertEqual(r.state.gpr[7], s); XCTAssertEqual(r.state.gpr[6] >> 32, 0x5555_0000)
        r = UserMode.run([0xF3, 0x67, 0xA4], state)         // rep movsb
        XCTAssertEqual(r.state.gpr[1], 0); XCTAssertEqual(r.state.gpr[7], s); XCTAssertEqual(r.state.gpr[6], s)
        r = UserMode.run([0xF3, 0x67, 0xAC], state)         // rep lodsb
        XCTAssertEqual(r.state.gpr[1], 0); XCTAssertEqual(r.state.gpr[6] >> 32, 0x5555_0000); XCTAssertEqual(r.state.gpr[7] >> 32, 0xAAAA_0000)
        r = UserMode.run([0xF2, 0x67, 0xA6], state)         // repne cmpsb
        XCTAssertEqual(r.state.gpr[1], 0); XCTAssertEqual(r.state.gpr[6] >> 32, 0x5555_0000)
        // ECX is written (zero-extended) even when the first iteration faults.
        r = UserMode.run([0xF3, 0x67, 0xAC]) { $0.gpr[1] = 0x1492_B819_0000_0001; $0.gpr[6] = UserMode.scratch - 15 }
        XCTAssertEqual(r.fault?.vector, 14)
        XCTAssertEqual(r.state.gpr[1], 1)
    }

    func testRepCmpsFaultLeavesTheFlags() {
        // The second quadword crosses into the guard page: RCX shows one iteration done, RFLAGS
        // are still those from before the instruction.
        let r = UserMode.run([0xF2, 0x48, 0xA7]) { s in
            s.gpr[6] = UserMode.guardAbove - 13
            s.gpr[7] = UserMode.scratch + 0x100
            s.gpr[1] = 4
            s.rflags = 0x202
            s.mem(UserMode.scratch + 0x100, 8, 0x22)
        }
        XCTAssertEqual(r.fault?.vector, 14)
        XCTAssertEqual(r.state.gpr[1], 3)
        XCTAssertEqual(r.state.rflags & 0xFFF, 0x202)
    }

    func testStringOperandOrderAndAddressSize() {
        // CMPS reads ES:rDI first: with both operands unmapped the fault names rDI's address.
        var r = UserMode.run([0xF3, 0xA6]) { st in
            st.gpr[6] = UserMode.scratch - 0x16; st.gpr[7] = UserMode.scratch - 1; st.gpr[1] = 5
        }
        XCTAssertEqual(r.fault?.addr, UserMode.scratch - 1)
        // REP MOVS with a 32-bit address size: ESI and EDI zero-extended even when the first
        // iteration faults.
        r = UserMode.run([0x67, 0xF3, 0xA4]) { st in
            st.gpr[6] = 0x50BF_DC88_0000_0000 | (UserMode.scratch + 0x100)
            st.gpr[7] = UserMode.scratch - 0x20; st.gpr[1] = 11
        }
        XCTAssertEqual(r.fault?.vector, 14)
        XCTAssertEqual(r.state.gpr[6], UserMode.scratch + 0x100)
    }

    func testMovsxdWith16BitOperandSizeReadsAWord() {
        // movsxd ax, word [rbx] at the last two bytes of the scratch area: no #PF.
        let r = UserMode.run([0x66, 0x63, 0x03]) { st in
            st.gpr[3] = UserMode.guardAbove - 2; st.gpr[0] = 0x1111_2222_3333_4444; st.mem(UserMode.guardAbove - 2, 2, 0x8001)
        }
        XCTAssertNil(r.fault)
        XCTAssertEqual(r.state.gpr[0], 0x1111_2222_3333_8001)
    }
}
