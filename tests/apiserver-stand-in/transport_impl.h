// The two Transport implementations; only http_session.cpp creates them.
#pragma once
#include "http_session.h"

namespace sluice::standin {

std::shared_ptr<Transport> make_websocket_transport(TlsStream stream, http::request<http::string_body> req,
                                                    const std::string& subprotocol,
                                                    std::function<void(std::shared_ptr<Transport>)> ready);
std::shared_ptr<Transport> make_raw_transport(TlsStream stream, std::string already_read);

}  // namespace sluice::standin
