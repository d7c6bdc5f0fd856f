import XCTest
@testable import Devices

final class ClockTests: XCTestCase {
    func testDeterministicTimeFollowsInstructionCount() {
        var ic: UInt64 = 0
        let c = Clock(mode: .deterministic(nanoseconds: 3, perInstructions: 2))
        c.instructionCounter = { ic }
        XCTAssertEqual(c.now, 0)
        ic = 10; XCTAssertEqual(c.now, 15)
        ic = 11; XCTAssertEqual(c.now, 16)      // floor(33 / 2)
        c.advance(by: 100)
        XCTAssertEqual(c.now, 116)
        ic = 13; XCTAssertEqual(c.now, 119)
        // Counter reset never moves time backwards.
        ic = 0; XCTAssertEqual(c.now, 119)
        ic = 2; XCTAssertEqual(c.now, 122)
        XCTAssertEqual(c.instructionsUntil(122), 1)
        XCTAssertEqual(c.instructionsUntil(128), 4)   // 6 ns at 1.5 ns/instruction
        XCTAssertEqual(c.instructionsUntil(129), 5)
    }

    func testDefaultRateIsOneNanosecondPerInstruction() {
        var ic: UInt64 = 0
        let c = Clock()
        c.instructionCounter = { ic }
        ic = 1_000_000
        XCTAssertEqual(c.now, 1_000_000)
        XCTAssertEqual(c.instructionsUntil(1_000_500), 500)
        XCTAssertTrue(c.isDeterministic)
    }

    func testRealTimeFollowsHostClock() {
        var host: UInt64 = 5_000
        let c = Clock(mode: .realTime)
        c.hostMonotonic = { host }
        XCTAssertEqual(c.now, 0)
        host = 7_500
        XCTAssertEqual(c.now, 2_500)
        c.advance(by: 1_000)
        XCTAssertEqual(c.now, 3_500)
        host = 8_000
        XCTAssertEqual(c.now, 4_000)
        XCTAssertNil(c.instructionsUntil(10_000))
        // The real host clock moves forward.
        let r = Clock(mode: .realTime)
        let a = r.now
        usleep(2_000)
        XCTAssertGreaterThan(r.now, a)
    }

    func testEventsFireInDeadlineOrderWithFIFOTies() {
        let c = Clock()
        var log: [String] = []
        c.schedule(at: 300) { _ in log.append("c") }
        c.schedule(at: 100) { _ in log.append("a") }
        c.schedule(at: 200) { _ in log.append("b1") }
        c.schedule(at: 200) { _ in log.append("b2") }
        let d = c.schedule(at: 150) { _ in log.append("cancelled") }
        c.cancel(d)
        XCTAssertFalse(c.isPending(d))
        XCTAssertEqual(c.nextDeadline, 100)
        XCTAssertEqual(c.runDue(), 0)
        c.advance(to: 200)
        XCTAssertEqual(c.runDue(), 3)
        XCTAssertEqual(log, ["a", "b1", "b2"])
        XCTAssertEqual(c.nextDeadline, 300)
        c.advance(to: 1000)
        c.runDue()
        XCTAssertEqual(log, ["a", "b1", "b2", "c"])
        XCTAssertNil(c.nextDeadline)
        XCTAssertEqual(c.pendingCount, 0)
    }

    func testCallbackReceivesDeadlineAndPastEventsFireInSameRun() {
        let c = Clock()
        c.advance(to: 1_000)
        var got: [UInt64] = []
        c.schedule(at: 500) { d in
            got.append(d)
            c.schedule(at: 10) { d2 in got.append(d2) }          // in the past: same run
            c.schedule(at: 5_000) { d3 in got.append(d3) }       // future: later
        }
        XCTAssertEqual(c.runDue(), 2)
        XCTAssertEqual(got, [500, 10])
        XCTAssertEqual(c.nextDeadline, 5_000)
    }

    func testSelfReschedulingInThePastIsBounded() {
        let c = Clock()
        c.advance(to: 1_000)
        c.maxEventsPerRun = 100
        var count = 0
        func again(_: UInt64) { count += 1; c.schedule(at: 0, again) }
        c.schedule(at: 0, again)
        XCTAssertEqual(c.runDue(), 100)
        XCTAssertEqual(count, 100)
        XCTAssertEqual(c.nextDeadline, 0)   // the rest waits for the next call
        XCTAssertEqual(c.runDue(), 100)
    }

    func testScheduleCancelChurnStaysBounded() {
        let c = Clock()
        var t = ClockTimer()
        for i in 0..<20_000 { t.arm(c, at: UInt64(1_000_000 + i)) { _ in } }
        XCTAssertEqual(c.pendingCount, 1)
        XCTAssertEqual(c.nextDeadline, 1_019_999)
        t.cancel(c)
        XCTAssertNil(c.nextDeadline)
        XCTAssertFalse(t.isArmed(c))
    }

    func testSaturationAndIdle() {
        let c = Clock()
        c.advance(by: .max)
        XCTAssertEqual(c.now, .max)
        c.advance(by: 10)
        XCTAssertEqual(c.now, .max)
        let d = Clock()
        var fired = false
        d.schedule(after: 500) { _ in fired = true }
        d.idle(until: d.nextDeadline!)
        XCTAssertEqual(d.now, 500)
        d.runDue()
        XCTAssertTrue(fired)
    }

    func testStateRestore() {
        let c = Clock()
        c.advance(to: 12_345)
        let s = c.state
        let d = Clock()
        d.schedule(at: 5) { _ in }
        d.restore(s)
        XCTAssertEqual(d.now, 12_345)
        XCTAssertNil(d.nextDeadline)
    }
}
