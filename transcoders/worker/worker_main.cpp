// orthanc-router-transcoder: one transcoder worker process. The router
// spawns a pool of them (WorkerPool) with their socket on descriptor 3; each
// locks itself down (Lockdown.h) and converts one image at a time until the
// router closes the socket. Not meant to be started by hand.
#include "transcoders/worker/WorkerMain.h"

int main(int argc, char** argv) { return router::worker::runWorker(argc, argv); }
