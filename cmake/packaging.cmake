# `make package`: a Debian package with the binary, the systemd unit, sysusers/tmpfiles snippets,
# /etc/omniroute/omniroute.yaml as a conffile, and the docs. Depends: computed by dpkg-shlibdeps.
include(GNUInstallDirs)

install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/omniroute.service DESTINATION lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/omniroute.sysusers
        DESTINATION lib/sysusers.d RENAME omniroute.conf)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/omniroute.tmpfiles
        DESTINATION lib/tmpfiles.d RENAME omniroute.conf)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/omniroute.yaml DESTINATION /etc/omniroute)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/operations.md
              ${PROJECT_SOURCE_DIR}/docs/connectors.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/schemas DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${PROJECT_SOURCE_DIR}/deploy/grafana/omniroute-dashboard.json
              ${PROJECT_SOURCE_DIR}/deploy/prometheus/omniroute-alerts.yaml
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/monitoring)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME omniroute)
set(CPACK_PACKAGE_VENDOR "omniroute")
set(CPACK_PACKAGE_CONTACT "omniroute maintainers <maintainers@omniroute.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "omnichannel contact routing daemon for contact centers")
set(CPACK_PACKAGE_DESCRIPTION
    "Turns inbound customer contacts (email, web chat, messengers, phone calls) into events on Kafka,\n routes them to agents by skill, load and history, and feeds agent desktops.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # omniroute_<version>_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "systemd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/deploy/debian/conffiles ${PROJECT_SOURCE_DIR}/deploy/debian/postinst
    ${PROJECT_SOURCE_DIR}/deploy/debian/prerm ${PROJECT_SOURCE_DIR}/deploy/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
