// GetResults' messages as the kinds' result tables (spec/) read them, and
// those tables as messages: shared by the CLI and the server, which both
// build tables (the server for the web UI, GetResults' include_tables).
#ifndef LADLE_PROTO_RESULT_VIEWS_H_
#define LADLE_PROTO_RESULT_VIEWS_H_

#include <vector>

#include "ladle/v1/experiments.pb.h"
#include "spec/result_table.h"

namespace ladle {

// The jobs of GetResults as result tables read them.
std::vector<JobView> JobViews(const v1::ExperimentResults& res);

// `tables` into `out`.
void FillTables(const std::vector<ReportTable>& tables,
                google::protobuf::RepeatedPtrField<v1::ResultTable>* out);

}  // namespace ladle

#endif  // LADLE_PROTO_RESULT_VIEWS_H_
