// Includes Debian's generated ONNX protobuf classes with the settings they were built with.
#pragma once

#ifndef ONNX_ML
#define ONNX_ML 1
#endif
#ifndef ONNX_NAMESPACE
#define ONNX_NAMESPACE onnx
#endif
#include <onnx/onnx_pb.h>
#include <onnx/onnx-data.pb.h>
