// Tensor: a typed, shaped buffer owned in one backend's memory.
//
// A Tensor owns its memory (freed through the backend that allocated it) and is
// move-only. The backend must outlive its tensors. Not thread-safe. Shapes are
// row-major; dtype is fixed by the element type (float = fp32, int32_t for
// labels and indices).
#ifndef LADLE_KERNELS_TENSOR_H_
#define LADLE_KERNELS_TENSOR_H_

#include <cstdint>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "kernels/backend.h"

namespace ladle {

using Shape = std::vector<int64_t>;

inline int64_t NumElements(const Shape& shape) {
  return std::accumulate(shape.begin(), shape.end(), int64_t{1},
                         std::multiplies<int64_t>());
}
inline std::string ShapeString(const Shape& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ","), "]");
}

template <typename T>
class Tensor {
 public:
  Tensor() = default;
  Tensor(const Tensor&) = delete;
  Tensor& operator=(const Tensor&) = delete;
  Tensor(Tensor&& o) noexcept { *this = std::move(o); }
  Tensor& operator=(Tensor&& o) noexcept {
    if (this != &o) {
      Reset();
      backend_ = std::exchange(o.backend_, nullptr);
      data_ = std::exchange(o.data_, nullptr);
      shape_ = std::move(o.shape_);
      o.shape_.clear();
    }
    return *this;
  }
  ~Tensor() { Reset(); }

  // Allocates zero-filled memory for `shape` on `backend`.
  static absl::StatusOr<Tensor> Zeros(Backend* backend, Shape shape) {
    for (int64_t d : shape) {
      if (d < 0)
        return absl::InvalidArgumentError("tensor: negative dimension in " +
                                          ShapeString(shape));
    }
    Tensor t;
    ASSIGN_OR_RETURN(void* p,
                     backend->Allocate(sizeof(T) * NumElements(shape)));
    t.backend_ = backend;
    t.data_ = static_cast<T*>(p);
    t.shape_ = std::move(shape);
    return t;
  }
  // Allocates and copies `host` (size must match the shape).
  static absl::StatusOr<Tensor> FromHost(Backend* backend, Shape shape,
                                         const std::vector<T>& host) {
    if (static_cast<int64_t>(host.size()) != NumElements(shape)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor: ", host.size(), " values for shape ", ShapeString(shape)));
    }
    ASSIGN_OR_RETURN(Tensor t, Zeros(backend, std::move(shape)));
    RETURN_IF_ERROR(t.CopyFromHost(host.data(), host.size()));
    return t;
  }

  absl::Status CopyFromHost(const T* src, int64_t count, int64_t offset = 0) {
    if (offset < 0 || offset + count > size()) {
      return absl::OutOfRangeError("tensor: host copy out of range");
    }
    return backend_->CopyToDevice(data_ + offset, src, sizeof(T) * count);
  }
  absl::StatusOr<std::vector<T>> ToHost() const {
    std::vector<T> out(size());
    if (!out.empty())
      RETURN_IF_ERROR(
          backend_->CopyToHost(out.data(), data_, sizeof(T) * size()));
    return out;
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  const Shape& shape() const { return shape_; }
  int64_t size() const { return data_ == nullptr ? 0 : NumElements(shape_); }
  int64_t dim(int i) const { return shape_[i]; }
  Backend* backend() const { return backend_; }

 private:
  void Reset() {
    if (data_ != nullptr) backend_->Free(data_);
    data_ = nullptr;
    backend_ = nullptr;
  }

  Backend* backend_ = nullptr;
  T* data_ = nullptr;
  Shape shape_;
};

// A CSR matrix held in backend memory.
struct DeviceCsr {
  int64_t rows = 0, cols = 0;
  Tensor<int32_t> row_ptr, col_idx;
  Tensor<float> values;

  CsrView view() const {
    return CsrView{rows,           cols,           values.size(),
                   row_ptr.data(), col_idx.data(), values.data()};
  }
};

}  // namespace ladle

#endif  // LADLE_KERNELS_TENSOR_H_
