{
  "targets": [
    {
      "target_name": "conc_shm",
      "sources": ["shm.cc", "async_wait.cc"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"],
      "libraries": ["-ldl", "-lpthread"]
    }
  ]
}
