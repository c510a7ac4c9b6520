// C++ for kitalloc's relocatable handles: a lock held for a scope.
//
//   kit_handle handle = kit_handle_alloc(sizeof(Node));
//   {
//     kit::HandleLock lock(handle);          // pinned: kit_compact() will not move it
//     if (Node* node = lock.as<Node>())
//       node->value = 42;
//   }                                        // unlocked: it may move again
#pragma once

#include "kitalloc.h"

namespace kit {

class HandleLock {
public:
  explicit HandleLock(kit_handle handle) : handle_(handle), address_(kit_handle_lock(handle)) {}
  ~HandleLock() {
    if (address_ != nullptr)
      kit_handle_unlock(handle_);
  }
  HandleLock(const HandleLock&) = delete;
  HandleLock& operator=(const HandleLock&) = delete;

  // The block's address while the lock lives; nullptr when the handle was bad.
  void* get() const { return address_; }
  template <typename T> T* as() const { return static_cast<T*>(address_); }
  explicit operator bool() const { return address_ != nullptr; }

private:
  kit_handle handle_;
  void* address_;
};

} // namespace kit
