// One bidirectional gRPC stream driven from a single thread with deadlines (internal to
// lib/etcd): the LeaseKeepAlive and Watch streams. gRPC's synchronous streams block in Read()
// without a timeout; here every wait has a deadline, so a silent endpoint is noticed and stop()
// is honoured within one wait slice.
//
// At most one read and one write are in flight at a time (gRPC's rule). The destructor cancels the
// call and drains the completion queue, so a BidiStream may be dropped in any state.
#pragma once

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/async_stream.h>

#include <chrono>
#include <memory>

namespace rustun::etcd {

template <typename Req, typename Resp>
class BidiStream {
public:
    using Stream = grpc::ClientAsyncReaderWriterInterface<Req, Resp>;
    enum class Event { ReadDone, WriteDone, Timeout, Failed };

    // `prepare(ctx, cq)`: the stub's PrepareAsync<Method>. Starts the call; false if it did not
    // start before `deadline` or failed.
    template <typename Prepare>
    bool start(Prepare&& prepare, std::chrono::system_clock::time_point deadline) {
        stream_ = prepare(&ctx_, &cq_);
        stream_->StartCall(tag(kStart));
        ++pending_;
        for (;;) {
            Event e = next(deadline);
            if (started_) return true;
            if (e == Event::Timeout || e == Event::Failed) return false;
        }
    }

    // Begins a write of `req` (copied); false if one is in flight or the stream failed.
    bool write(const Req& req) {
        if (writing_ || failed_) return false;
        out_ = req;
        writing_ = true;
        ++pending_;
        stream_->Write(out_, tag(kWrite));
        return true;
    }
    // Begins a read into response(); no-op if one is in flight.
    void read() {
        if (reading_ || failed_) return;
        reading_ = true;
        ++pending_;
        stream_->Read(&in_, tag(kRead));
    }
    bool writing() const { return writing_; }
    const Resp& response() const { return in_; }

    // Waits for one completion until `deadline`.
    Event next(std::chrono::system_clock::time_point deadline) {
        void* t = nullptr;
        bool ok = false;
        switch (cq_.AsyncNext(&t, &ok, deadline)) {
            case grpc::CompletionQueue::TIMEOUT: return Event::Timeout;
            case grpc::CompletionQueue::SHUTDOWN: failed_ = true; return Event::Failed;
            case grpc::CompletionQueue::GOT_EVENT: break;
        }
        --pending_;
        const auto which = reinterpret_cast<intptr_t>(t);
        if (which == kRead) reading_ = false;
        if (which == kWrite) writing_ = false;
        if (!ok) {
            failed_ = true;
            return Event::Failed;
        }
        if (which == kStart) started_ = true;
        return which == kRead ? Event::ReadDone : which == kWrite ? Event::WriteDone : Event::Timeout;
    }

    ~BidiStream() {
        void* t = nullptr;
        bool ok = false;
        if (stream_) {
            ctx_.TryCancel();
            while (pending_ > 0 && cq_.Next(&t, &ok)) --pending_;
            grpc::Status status;
            stream_->Finish(&status, tag(kFinish));
            cq_.Next(&t, &ok);
        }
        cq_.Shutdown();
        while (cq_.Next(&t, &ok)) {
        }
    }

private:
    static constexpr intptr_t kStart = 1, kRead = 2, kWrite = 3, kFinish = 4;
    static void* tag(intptr_t t) { return reinterpret_cast<void*>(t); }

    grpc::ClientContext ctx_;
    grpc::CompletionQueue cq_;
    std::unique_ptr<Stream> stream_;
    Req out_;
    Resp in_;
    int pending_ = 0;
    bool started_ = false;
    bool reading_ = false;
    bool writing_ = false;
    bool failed_ = false;
};

}  // namespace rustun::etcd
