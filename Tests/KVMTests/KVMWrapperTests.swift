import XCTest
import Machine
import CKVM
#if canImport(Glibc)
import Glibc
#endif

/// The ioctl wrappers against a scripted backend: no kernel needed, runs everywhere.
final class KVMWrapperTests: XCTestCase {
    /// Answers each ioctl from a table; records what was asked.
    final class FakeBackend: KVMBackend {
        var openResult: Int32 = 3
        var answers: [UInt: [Int32]] = [:]     // request -> results in order (last one repeats)
        var calls: [UInt] = []
        var closed: [Int32] = []
        var fillCPUID: ((UnsafeMutableRawPointer) -> Void)?

        func next(_ r: UInt) -> Int32 {
            calls.append(r)
            guard var a = answers[r], !a.isEmpty else { return -ENOTTY }
            let v = a.removeFirst()
            answers[r] = a.isEmpty ? [v] : a
            return v
        }
        func open(path: String) -> Int32 { openResult }
        func close(_ fd: Int32) { closed.append(fd) }
        func ioctl(_ fd: Int32, _ request: UInt, _ arg: UnsafeMutableRawPointer?) -> Int32 {
            let r = next(request)
            if request == CKVM_REQ_GET_SUPPORTED_CPUID, r >= 0, let arg { fillCPUID?(arg) }
            return r
        }
        func ioctl(_ fd: Int32, _ request: UInt, value: UInt) -> Int32 { next(request) }
        func mmap(fd: Int32, size: Int) -> UnsafeMutableRawPointer? { nil }
        func munmap(_ p: UnsafeMutableRawPointer, size: Int) {}
    }

    func testOpenFailureNamesTheDevice() {
        let b = FakeBackend()
        b.openResult = -EACCES
        XCTAssertThrowsError(try KVMSystem(path: "/dev/kvm-test", backend: b)) { e in
            let d = (e as! KVMError).description
            XCTAssertTrue(d.contains("/dev/kvm-test"), d)
            XCTAssertTrue(d.contains("errno \(EACCES)"), d)
        }
    }

    func testWrongAPIVersionIsRefusedAndClosed() {
        let b = FakeBackend()
        b.answers[CKVM_REQ_GET_API_VERSION] = [11]
        XCTAssertThrowsError(try KVMSystem(path: "/dev/kvm", backend: b)) { e in
            XCTAssertTrue((e as! KVMError).description.contains("KVM_GET_API_VERSION"))
        }
        XCTAssertEqual(b.closed, [3])
    }

    func testExtensionsAndErrorsMapToValues() throws {
        let b = FakeBackend()
        b.answers[CKVM_REQ_GET_API_VERSION] = [12]
        b.answers[CKVM_REQ_CHECK_EXTENSION] = [-EINVAL, 5]
        b.answers[CKVM_REQ_GET_VCPU_MMAP_SIZE] = [-ENOMEM]
        b.answers[CKVM_REQ_CREATE_VM] = [-EMFILE]
        let s = try KVMSystem(path: "/dev/kvm", backend: b)
        XCTAssertEqual(s.checkExtension(1), 0, "a failing KVM_CHECK_EXTENSION means absent")
        XCTAssertEqual(s.checkExtension(1), 5)
        XCTAssertThrowsError(try s.vcpuMmapSize()) { e in
            XCTAssertEqual((e as! KVMError).errno, ENOMEM)
            XCTAssertTrue((e as! KVMError).description.contains("KVM_GET_VCPU_MMAP_SIZE"))
        }
        XCTAssertThrowsError(try s.createVM()) { e in XCTAssertEqual((e as! KVMError).errno, EMFILE) }
    }

    /// KVM_GET_SUPPORTED_CPUID: E2BIG grows the buffer and asks again; the entries come back.
    func testSupportedCPUIDRetriesOnE2BIG() throws {
        let b = FakeBackend()
        b.answers[CKVM_REQ_GET_API_VERSION] = [12]
        b.answers[CKVM_REQ_GET_SUPPORTED_CPUID] = [-E2BIG, 0]
        b.fillCPUID = { raw in
            let c = raw.assumingMemoryBound(to: kvm_cpuid2.self)
            c.pointee.nent = 2
            let e = ckvm_cpuid2_entries(c)!
            e[0].function = 0; e[0].eax = 0xD; e[0].ebx = 0x756E_6547
            e[1].function = 0x8000_0001; e[1].edx = 1 << 29
        }
        let s = try KVMSystem(path: "/dev/kvm", backend: b)
        let l = try s.supportedCPUID()
        XCTAssertEqual(b.calls.filter { $0 == CKVM_REQ_GET_SUPPORTED_CPUID }.count, 2)
        XCTAssertEqual(l.count, 2)
        XCTAssertEqual(l[0].eax, 0xD)
        XCTAssertEqual(l[0].ebx, 0x756E_6547)
        XCTAssertEqual(l[1].function, 0x8000_0001)
        XCTAssertEqual(l[1].edx, 1 << 29)
    }
}
