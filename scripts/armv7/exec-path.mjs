// `node --import` this file under qemu-arm (NODE_OPTIONS, so every child gets it too): the daemon starts its probe
// and profiler as `process.execPath <script>`, an armv7l ELF the x64 kernel cannot exec without binfmt_misc (which
// a container cannot register). ARMV7_QNODE is a wrapper that runs the same node under qemu-arm; a real Pi needs none.
if (process.env.ARMV7_QNODE) process.execPath = process.env.ARMV7_QNODE;
